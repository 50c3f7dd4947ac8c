"""What 用户管理 tells the administrator: a login name made too long, a person created twice, a login lock."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.accounts import selectors
from crm.accounts.models import Department, User

pytestmark = pytest.mark.django_db

CREATE = "accounts:user_create"
SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- a login name made from the full name, too long ----------------------------------------------------------


def test_a_login_name_made_too_long_is_explained_not_pinned_on_the_empty_field(client_for: Any) -> None:
    admin = client_for("管理员")
    longest = User._meta.get_field("username").max_length
    name = "欧阳" + "明" * 28  # 30 characters: the name alone fits
    User.objects.create(username=name, full_name="欧阳明")  # so the new person's gets the department added
    dept = Department.objects.create(name="贵宾" * 20, parent=Department.objects.get(name="市场部"))
    data = {"full_name": name, "department": dept.pk, "is_active": "on"}
    r = admin.post(reverse(CREATE), data)
    assert r.status_code == 422
    form = r.context["form"]
    assert "username" not in form.errors  # the administrator typed nothing there
    made = f"{name}({dept.name})"
    assert form.non_field_errors() == [
        f"由姓名生成的登录名「{made}」过长(最多 {longest} 个字符),请在「登录名」中填写一个较短的登录名。"
    ]
    assert "过长(最多 64 个字符)" in r.content.decode()
    assert not User.objects.filter(full_name=name).exists()
    # with a login name typed in, the person is saved
    r = admin.post(reverse(CREATE), {**data, "username": "欧阳明(贵宾)"})
    assert r.status_code == 302
    assert User.objects.get(username="欧阳明(贵宾)").full_name == name


# --- the same person created twice ----------------------------------------------------------------------------


def _hidden_confirmation(body: str) -> str | None:
    found = re.search(r'<input type="hidden" name="confirm_namesake" value="([^"]*)"', body)
    return found.group(1) if found else None


def test_a_new_user_named_as_someone_here_is_saved_only_at_the_second_save(client_for: Any) -> None:
    admin = client_for("管理员")
    market = Department.objects.get(name="市场部")
    data = {"full_name": "刘洋", "department": market.pk, "is_active": "on"}
    r = admin.post(reverse(CREATE), data)
    assert r.status_code == 422
    body = r.content.decode()
    assert (
        "已有同名用户:刘洋(销售一组、业务员、登录名「刘洋」)。如果是同一人,请不要重复创建;"
        "确实是另一位同名同事,请再次点击【保存】。"
    ) in body
    assert User.objects.filter(full_name="刘洋").count() == 1
    # the page holds the confirmation after the warning; the second 【保存】 sends it back and creates the person
    confirmation = _hidden_confirmation(body)
    assert confirmation == "刘洋"
    r = admin.post(reverse(CREATE), {**data, "confirm_namesake": confirmation})
    assert r.status_code == 302
    assert User.objects.filter(full_name="刘洋").count() == 2
    assert User.objects.filter(username="刘洋(市场部)").exists()


def test_every_namesake_is_named_and_a_confirmation_holds_for_its_own_name_only(client_for: Any) -> None:
    admin = client_for("管理员")
    User.objects.filter(username="张伟(销售二组)").update(is_active=False)
    market = Department.objects.get(name="市场部")
    data = {"full_name": "张伟", "department": market.pk, "is_active": "on", "confirm_namesake": "刘洋"}
    r = admin.post(reverse(CREATE), data)
    assert r.status_code == 422
    body = r.content.decode()
    assert (
        "已有同名用户:张伟(销售一组、业务员、登录名「张伟」);张伟(销售二组、业务员、登录名「张伟(销售二组)」、已停用)。"
    ) in body
    assert _hidden_confirmation(body) == "张伟"
    assert User.objects.filter(full_name="张伟").count() == 2


def test_a_name_no_one_has_and_an_edit_save_at_once(client_for: Any, people: dict[str, Any]) -> None:
    admin = client_for("管理员")
    market = Department.objects.get(name="市场部")
    r = admin.post(reverse(CREATE), {"full_name": "郑晓东", "department": market.pk, "is_active": "on"})
    assert r.status_code == 302
    zhang = people["张伟"]  # a namesake of 张伟(销售二组): saving him is no second person
    url = reverse("accounts:user_edit", args=[zhang.pk])
    body = admin.get(url).content.decode()
    assert "confirm_namesake" not in body
    data = {"full_name": "张伟", "username": "张伟", "department": zhang.department_id, "mobile": "13800001234"}
    r = admin.post(url, {**data, "is_active": "on"})
    assert r.status_code == 302
    zhang.refresh_from_db()
    assert zhang.mobile == "13800001234"


# --- login locks ----------------------------------------------------------------------------------------------


def _failures(username: str, n: int, at: datetime, *, ip: str = "10.0.0.5", agent: str = "") -> AccessAttempt:
    attempt = AccessAttempt.objects.create(
        username=username,
        ip_address=ip,
        user_agent=agent,
        http_accept="text/html",
        path_info="/CRM/login/",
        get_data="",
        post_data="",
        failures_since_start=n,
    )
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=at)
    return attempt


def test_who_is_locked_and_until_when_as_axes_counts_it(people: dict[str, Any], settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    now = timezone.now()
    t1, t2 = now - timedelta(minutes=10), now - timedelta(minutes=3)

    def lock(name: str) -> datetime | bool | None:
        found = selectors.login_lock(name, now=now)
        return False if found is None else found.until

    assert lock("周丽") is False  # no failure at all
    _failures("周丽", 4, t1)
    assert lock("周丽") is False  # one short of the limit
    _failures("周丽", 3, t1, ip="10.0.0.9")
    assert lock("周丽") is False  # one person on two computers: counted per computer
    _failures("周丽", 1, t2, agent="Firefox")  # the same computer, another browser: counted with it
    assert lock("周丽") == t1 + timedelta(minutes=15)  # the 5th failure counted from the newest is the t1 one
    _failures("杨帆", 7, now - timedelta(minutes=20))
    assert lock("杨帆") is False  # older than the cool-off
    _failures("刘洋", 2, t1)
    _failures("刘洋", 5, t2, agent="Firefox")
    assert lock("刘洋") == t2 + timedelta(minutes=15)  # the newest alone reach the limit
    _failures("无此人", 9, t2)  # not a login name of anyone here
    assert set(selectors.login_locks(now=now)) == {"周丽", "刘洋"}
    settings.AXES_COOLOFF_TIME = None  # without a cool-off a lock lasts until lifted
    assert selectors.login_lock("杨帆", now=now) == selectors.LoginLock(None)


def test_the_lock_lifts_at_the_minute_shown_in_the_club_s_time() -> None:
    until = datetime(2026, 3, 2, 6, 37, 42, tzinfo=ZoneInfo("UTC"))
    assert selectors.LoginLock(until).lifts_at == datetime(2026, 3, 2, 14, 38, tzinfo=SHANGHAI)
    on_the_minute = datetime(2026, 3, 2, 14, 37, tzinfo=SHANGHAI)
    assert selectors.LoginLock(on_the_minute).lifts_at == on_the_minute


def _login(client: Client, username: str, password: str) -> Any:
    return client.post("/CRM/login/", {"username": username, "password": password}, REMOTE_ADDR="10.0.0.5")


def test_the_user_page_says_a_person_is_locked_until_when_and_offers_to_unlock(
    client: Client, client_for: Any, people: dict[str, Any], settings: Any
) -> None:
    zhou = people["周丽"]
    admin = client_for("管理员")
    url = reverse("accounts:user_edit", args=[zhou.pk])
    body = admin.get(url).content.decode()
    assert "登录已锁定" not in body and 'value="unlock"' not in body  # not locked: nothing to lift
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "周丽", "wrong-password")
    assert _login(client, "周丽", "123456").status_code == 429
    last = AccessAttempt.objects.get(username="周丽").attempt_time
    lifts = (last + settings.AXES_COOLOFF_TIME + timedelta(minutes=1, microseconds=-1)).astimezone(SHANGHAI)
    body = admin.get(url).content.decode()
    assert f"登录已锁定,至 {lifts:%H:%M} 自动解除" in body
    assert 'value="unlock"' in body
    # someone who may view people but not lift a lock reads the lock, without the button
    body = client_for("赵志刚").get(url).content.decode()
    assert "登录已锁定" in body and 'value="unlock"' not in body
    r = admin.post(url, {"_action": "unlock"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "登录锁定已解除" in body and "登录已锁定" not in body and 'value="unlock"' not in body
    assert _login(client, "周丽", "123456").status_code == 302


def test_the_user_list_marks_who_is_locked_in_a_constant_number_of_queries(
    client_for: Any, people: dict[str, Any], settings: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin = client_for("管理员")
    url = reverse("accounts:user_list")

    def page() -> tuple[dict[str, str], int]:
        with CaptureQueriesContext(connection) as ctx:
            r = admin.get(url)
        labels = [str(c.label) for c in r.context["columns"]]
        locked = {row["obj"].username: str(row["cells"][labels.index("登录锁定")]) for row in r.context["rows"]}
        return locked, len(ctx.captured_queries)

    admin.get(url)  # the first request of the session reads what the later ones find cached
    before, queries = page()
    assert set(before.values()) == {""}
    recent = timezone.now() - timedelta(minutes=1)
    for name in ("周丽", "杨帆", "刘洋"):
        _failures(name, settings.AXES_FAILURE_LIMIT, recent)
    _failures("黄敏", settings.AXES_FAILURE_LIMIT - 1, recent)
    after, queries_locked = page()
    assert {name for name, cell in after.items() if cell} == {"周丽", "杨帆", "刘洋"}
    assert after["周丽"] == "已锁定"
    assert queries_locked == queries
    # the export says it too
    r = admin.get(url, {"export": "xlsx"})
    assert r.status_code == 200
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0).to_python()
    column = sheet[0].index("登录锁定")
    assert {row[1] for row in sheet[1:] if row[column] == "已锁定"} == {"周丽", "杨帆", "刘洋"}
