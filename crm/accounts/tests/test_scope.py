"""The one data-scope mechanism, proven two ways.

1. A matrix generated from the URL configuration: every generic list of a scoped model (its list, its
   export and its detail page) × every demo role × records of every kind of ownership, against the
   expectation written out from the roles' definitions.
2. A hypothesis test: random department trees, people and roles; ``for_user`` equals a naive oracle.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase
from python_calamine import CalamineWorkbook

from crm.accounts.models import Department, Role, User
from crm.core.models import AuditAction, AuditLog
from crm.core.scope import DataScope
from crm.core.views_base import ObjectListView

# ---------------------------------------------------------------------------------------------------
# The oracle: the data-scope rules written out naively, by walking parent pointers in Python.
# ---------------------------------------------------------------------------------------------------


def ancestors(dept: Department | None, parents: dict[int, int | None]) -> list[int]:
    out = []
    current = dept.pk if dept else None
    while current is not None:
        out.append(current)
        current = parents[current]
    return out


def oracle_reaches(user: User, *, owner_ids: set[int], department_id: int | None) -> bool:
    """Whether ``user`` may reach a record owned by ``owner_ids`` in ``department_id``."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    parents = dict(Department.objects.values_list("id", "parent_id"))
    scopes = {r.data_scope for r in user.roles.all()}
    if DataScope.ALL in scopes:
        return True
    if user.pk in owner_ids:
        return True
    dept_of = dict(User.objects.values_list("id", "department_id"))
    if user.department_id is not None and department_id is not None:
        if DataScope.DEPT_TREE in scopes and user.department_id in ancestors(
            Department.objects.get(pk=department_id), parents
        ):
            return True
        if DataScope.DEPT in scopes and department_id == user.department_id:
            return True
    if DataScope.SELF_AND_SUBORDINATES in scopes:
        managed = set(Department.objects.filter(manager=user).values_list("id", flat=True))
        for owner in owner_ids:
            owner_dept = dept_of.get(owner)
            if owner_dept is not None and managed & set(ancestors(Department.objects.get(pk=owner_dept), parents)):
                return True
    return False


def record_reach(obj: Any) -> tuple[set[int], int | None]:
    """(owner ids, department id) of a record, as its model declares them for the scope."""
    owners = set()
    for name in getattr(type(obj), "scope_owner_fields", ()):
        value = obj.pk if name in ("id", "pk") else getattr(obj, f"{name}_id", None)
        if value is not None:
            owners.add(value)
    dept_field = getattr(type(obj), "scope_department_field", None)
    return owners, getattr(obj, f"{dept_field}_id", None) if dept_field else None


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
                if cls and issubclass(cls, ObjectListView) and hasattr(cls.model.objects, "for_user"):
                    found.append((f"{namespace}{p.name}", cls))

    walk(get_resolver().url_patterns, "")
    return found


SCOPED = scoped_list_views()


def test_the_matrix_covers_every_scoped_list() -> None:
    names = {name for name, _ in SCOPED}
    assert {"accounts:user_list", "core:audit_list"} <= names


def _grant_page_permissions(view: type[ObjectListView]) -> None:
    perms = {view.permission, view.export_permission}
    for role in Role.objects.all():
        for code in filter(None, perms):
            app, codename = code.split(".", 1)
            role.permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))


def _seed_audit_rows() -> None:
    # One audited record acted on by each person: ownership of every kind exists for every viewer.
    for user in User.objects.all():
        AuditLog.objects.create(actor=user, actor_name=user.full_name, action=AuditAction.UPDATE, object_repr="x")


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
    _seed_audit_rows()
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


# ---------------------------------------------------------------------------------------------------
# 2. Random trees against the oracle
# ---------------------------------------------------------------------------------------------------

scopes = st.sampled_from([s.value for s in DataScope])


@st.composite
def organisations(draw: st.DrawFn) -> dict[str, Any]:
    n_depts = draw(st.integers(1, 8))
    parents = [None] + [draw(st.integers(0, i - 1)) for i in range(1, n_depts)]
    n_users = draw(st.integers(1, 10))
    users = [
        {
            "dept": draw(st.one_of(st.none(), st.integers(0, n_depts - 1))),
            "scopes": draw(st.lists(scopes, max_size=2)),
            "active": draw(st.booleans().map(lambda b: b or draw(st.booleans()))),
        }
        for _ in range(n_users)
    ]
    managers = [draw(st.one_of(st.none(), st.integers(0, n_users - 1))) for _ in range(n_depts)]
    return {"parents": parents, "users": users, "managers": managers}


class RandomTreeScopeTest(HypothesisTestCase):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(organisations())
    def test_for_user_equals_oracle(self, org: dict[str, Any]) -> None:
        from crm.accounts.services import department_save

        depts: list[Department] = []
        for i, parent in enumerate(org["parents"]):
            depts.append(
                department_save(
                    actor=None,
                    department=Department(),
                    data={"name": f"部门{i}", "parent": depts[parent] if parent is not None else None},
                )
            )
        roles = {s: Role.objects.create(name=f"角色{s}", data_scope=s) for s in DataScope.values}
        users = []
        for i, spec in enumerate(org["users"]):
            u = User.objects.create(
                username=f"u{i}",
                full_name=f"人员{i}",
                department=depts[spec["dept"]] if spec["dept"] is not None else None,
                is_active=spec["active"],
            )
            u.roles.set([roles[s] for s in spec["scopes"]])
            users.append(u)
        for d, m in zip(depts, org["managers"], strict=True):
            if m is not None:
                Department.objects.filter(pk=d.pk).update(manager=users[m])
        for u in users:
            AuditLog.objects.create(actor=u, actor_name=u.full_name, action=AuditAction.UPDATE)
        for viewer in User.objects.prefetch_related("roles"):
            got_users = set(User.objects.for_user(viewer).values_list("id", flat=True))
            want_users = {
                u.pk
                for u in User.objects.all()
                if oracle_reaches(viewer, owner_ids={u.pk}, department_id=u.department_id)
            }
            assert got_users == want_users
            got_audit = set(AuditLog.objects.for_user(viewer).values_list("id", flat=True))
            want_audit = {
                a.pk
                for a in AuditLog.objects.all()
                if oracle_reaches(viewer, owner_ids={a.actor_id}, department_id=None)
            }
            assert got_audit == want_audit
