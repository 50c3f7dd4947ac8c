from io import StringIO

import pytest
from django.core.management import call_command

from crm.accounts.demo import PEOPLE, load_demo
from crm.accounts.models import Department, User
from crm.accounts.selectors import grant_for_user
from crm.core.scope import DataScope
from crm.core.validators import validate_mobile

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent_and_complete() -> None:
    first = load_demo()
    assert first == {"departments": 8, "roles": 9, "users": 13, "dictionaries": 8, "chains": 3}
    assert load_demo() == {"departments": 0, "roles": 0, "users": 0, "dictionaries": 0}
    assert User.objects.count() == len(PEOPLE) == 13
    second = User.objects.get(username="张伟(销售二组)")
    assert second.full_name == "张伟" and second.department.name == "销售二组"
    for user in User.objects.all():
        assert user.check_password("123456") and user.has_initial_password
        validate_mobile(user.mobile)
    assert Department.objects.get(name="销售一组").manager.username == "李明"
    assert Department.objects.get(name="销售部").manager.username == "王建国"
    assert User.objects.get(username="管理员").is_superuser


def test_demo_scopes_follow_the_organisation() -> None:
    load_demo()
    by = {u.username: u for u in User.objects.all()}
    li = grant_for_user(by["李明"])
    assert li.user_ids == {by[n].pk for n in ("李明", "张伟", "刘洋")}
    wang = grant_for_user(by["王建国"])
    assert wang.department_ids == set(
        Department.objects.filter(name__in=["销售部", "销售一组", "销售二组"]).values_list("id", flat=True)
    )
    assert grant_for_user(by["张伟"]).user_ids == {by["张伟"].pk}
    assert grant_for_user(by["赵志刚"]).all
    assert by["周丽"].roles.get().data_scope == DataScope.SELF_AND_SUBORDINATES


def test_demo_command_if_empty() -> None:
    out = StringIO()
    call_command("demo", "--if-empty", stdout=out)
    assert "用户 13 人" in out.getvalue()
    out = StringIO()
    call_command("demo", "--if-empty", stdout=out)
    assert "未载入" in out.getvalue()
