"""The data-scope matrix, generated from the URL configuration: every generic list of a scoped model (its
list, its export and its detail page) × every demo role × records of every kind of ownership, against the
expectation written out from the roles' definitions (the oracle of crm/accounts/tests/test_scope.py)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from crm.accounts.models import Department, Role, User
from crm.accounts.tests.test_scope import oracle_reaches, record_reach
from crm.core.models import AuditAction, AuditLog
from crm.core.views_base import ObjectListView
from crm.customers.models import Customer, CustomerStatus, Lead, LeadStatus
from crm.customers.tabs import profile_tabs
from crm.loyalty.services import consumption_record
from crm.workflow.registry import form_types
from crm.workflow.services import draft_save

# ---------------------------------------------------------------------------------------------------
# 1. The generated matrix
# ---------------------------------------------------------------------------------------------------


def scoped_list_views() -> list[tuple[str, type[ObjectListView]]]:
    """Every URL served by a generic list whose model is reached through the data scope."""
    found: list[tuple[str, type[ObjectListView]]] = []

    def walk(patterns: list[Any], namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, f"{namespace}{p.namespace}:" if p.namespace else namespace)
            elif isinstance(p, URLPattern):
                cls = getattr(p.callback, "view_class", None)
                personal = getattr(cls, "personal", False)  # "my" lists: tested where they are defined
                if cls and issubclass(cls, ObjectListView) and hasattr(cls.model.objects, "for_user") and not personal:
                    found.append((f"{namespace}{p.name}", cls))

    walk(get_resolver().url_patterns, "")
    return found


SCOPED = scoped_list_views()


def test_the_matrix_covers_every_scoped_list() -> None:
    names = {name for name, _ in SCOPED}
    assert {
        "accounts:user_list",
        "core:audit_list",
        "workflow:applications",
        "customers:lead_list",
        "customers:lead_week_due",
        "customers:customer_list",
        "customers:customer_week_new",
        "loyalty:consumption_list",
        "loyalty:entry_list",
    } <= names


def _grant_page_permissions(view: type[ObjectListView]) -> None:
    perms = {view.permission, view.export_permission}
    if view.model is Customer:  # the tabs other apps add to the customer's page
        perms |= {tab.permission for tab in profile_tabs.all()}
    for role in Role.objects.all():
        for code in filter(None, perms):
            app, codename = code.split(".", 1)
            role.permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))


def _seed_records() -> None:
    # Records of every scoped kind owned by each person: ownership of every kind exists for every viewer.
    form_type = form_types.get("test_request")
    assert form_type is not None
    for user in User.objects.all():
        AuditLog.objects.create(actor=user, actor_name=user.full_name, action=AuditAction.UPDATE, object_repr="x")
        form = form_type.form_class({"subject": f"{user.full_name}的申请", "amount": 1})
        assert form.is_valid()
        draft_save(actor=user, form_type=form_type, form=form)
        # A lead and a customer of each person's, matching every weekly sub-list too.
        now, today = timezone.now(), timezone.localdate()
        common = {
            "name": f"{user.full_name}的客户",
            "owner": user,
            "department": user.department,
            "registered_by": user,
            "owned_since": now,
            "last_followup_at": now,
            "next_followup_on": today,
        }
        Lead.objects.create(status=LeadStatus.FOLLOWING, **common)
        customer = Customer.objects.create(status=CustomerStatus.FORMAL, **common)
        # and a member's consumption with its ledger entry, reached through the customer
        consumption_record(customer=customer, amount="100.00", category="dining", source="manual")


def _exported_row_count(response: Any) -> int:
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.content))
    return len(book.get_sheet_by_index(0).to_python()) - 1


VIEWERS = ["赵志刚", "管理员", "王建国", "李明", "张伟", "刘洋", "周丽", "杨帆", "张伟(销售二组)", "陈静", "吴芳"]


@pytest.mark.django_db
@pytest.mark.parametrize(("url_name", "view"), SCOPED, ids=[n for n, _ in SCOPED])
@pytest.mark.parametrize("viewer", VIEWERS)
def test_scope_matrix(url_name: str, view: type[ObjectListView], viewer: str, demo: object) -> None:
    User.objects.update(initial_password_set_at=None)
    _grant_page_permissions(view)
    _seed_records()
    user = User.objects.prefetch_related("roles").get(username=viewer)
    client = Client()
    client.force_login(user)
    records = list(view.model.objects.all())
    expected = {
        obj.pk
        for obj in records
        if oracle_reaches(user, **dict(zip(("owner_ids", "department_id"), record_reach(obj), strict=True)))
    }
    assert expected, "every viewer reaches at least their own records"
    # list: the scoped queryset the page uses, and the page itself (a page of everything)
    page = view.page_size
    assert {o.pk for o in view.model.objects.for_user(user)} == expected
    r = client.get(reverse(url_name), {"_uid": "m"})
    assert r.status_code == 200
    shown = len(r.context["rows"])
    assert shown == min(page, len(expected))
    assert r.context["count"] == len(expected)
    # export: the same rows, no more
    r = client.get(reverse(url_name), {"export": "xlsx"})
    assert r.status_code == 200
    assert _exported_row_count(r) == len(expected)
    # detail: in scope opens, out of scope is 404 (not 403)
    if view.detail_url_name:
        for obj in records:
            status = client.get(reverse(view.detail_url_name, args=[obj.pk])).status_code
            assert status == (200 if obj.pk in expected else 404), (viewer, obj)
    # the customer's tabs added by other apps (积分, 消费记录) are reached through the customer's page alone
    if url_name == "customers:customer_list":
        for obj in records:
            for tab in profile_tabs.all():
                status = client.get(reverse("customers:customer_tab", args=[obj.pk, tab.key])).status_code
                assert status == (200 if obj.pk in expected else 404), (viewer, obj, tab.key)


@pytest.mark.django_db
def test_editing_out_of_scope_is_404_and_changes_nothing(demo: object) -> None:
    """A manager with the right to edit people still cannot edit someone outside their scope."""
    role = Role.objects.get(name="销售经理")
    for codename in ("view_user", "change_user"):
        role.permissions.add(Permission.objects.get(codename=codename))
    User.objects.update(initial_password_set_at=None)
    li = User.objects.get(username="李明")
    client = Client()
    client.force_login(li)
    outsider = User.objects.get(username="杨帆")  # 销售二组, not under 李明
    r = client.post(reverse("accounts:user_edit", args=[outsider.pk]), {"full_name": "改名", "username": "杨帆"})
    assert r.status_code == 404
    assert User.objects.get(pk=outsider.pk).full_name == "杨帆"
    member = User.objects.get(username="刘洋")  # 销售一组, under 李明
    data = {"full_name": "刘洋", "username": "刘洋", "department": member.department_id, "is_active": "on"}
    assert client.post(reverse("accounts:user_edit", args=[member.pk]), data).status_code == 302
    # ...but may not move them out of his own reach: the write is rolled back with a reason.
    data["department"] = Department.objects.get(name="财务部").pk
    r = client.post(reverse("accounts:user_edit", args=[member.pk]), data)
    assert r.status_code == 422
    assert "超出您的数据权限范围" in r.content.decode()
    assert User.objects.get(pk=member.pk).department.name == "销售一组"
