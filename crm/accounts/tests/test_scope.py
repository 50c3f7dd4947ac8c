"""The one data-scope mechanism against a naive oracle: random department trees, people and roles.

The oracle is also used by the generated matrix over every scoped page (crm/tests/test_scope_matrix.py).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from crm.accounts.models import Department, Role, User
from crm.core.models import AuditAction, AuditLog
from crm.core.scope import DataScope

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


def _follow(obj: Any, path: str) -> Any:
    """The id a scope field names: ``owner`` is ``obj.owner_id``; a path through relations such as
    ``customer__owner`` (a consumption reached through its customer) is ``obj.customer.owner_id``."""
    *through, last = path.split("__")
    for name in through:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj.pk if last in ("id", "pk") else getattr(obj, f"{last}_id", None)


def record_reach(obj: Any) -> tuple[set[int], int | None]:
    """(owner ids, department id) of a record, as its model declares them for the scope."""
    owners = set()
    for name in getattr(type(obj), "scope_owner_fields", ()):
        value = _follow(obj, name)
        if value is not None:
            owners.add(value)
    dept_field = getattr(type(obj), "scope_department_field", None)
    return owners, _follow(obj, dept_field) if dept_field else None


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
