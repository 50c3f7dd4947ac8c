"""Reads for people and organisation; the data-scope grant of a user."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.core.scope import DataScope, Grant

from .models import Department, Role, User

if TYPE_CHECKING:
    from collections.abc import Iterable


def subtree_ids(paths: Iterable[str]) -> set[int]:
    """Ids of the departments at or below any of ``paths``."""
    paths = [p for p in paths if p and p != "/"]
    if not paths:
        return set()
    q = Q()
    for p in paths:
        q |= Q(path__startswith=p)
    return set(Department.objects.filter(q).values_list("id", flat=True))


def subordinate_ids(user: User) -> set[int]:
    """The people in the departments the user manages, and below them."""
    paths = list(Department.objects.filter(manager=user).values_list("path", flat=True))
    dept_ids = subtree_ids(paths)
    if not dept_ids:
        return set()
    return set(User.objects.filter(department_id__in=dept_ids).values_list("id", flat=True))


def grant_for_user(user: User) -> Grant:
    """The union of the user's roles' data scopes; a user always reaches their own records."""
    if not user.is_active:
        return Grant()
    if user.is_superuser:
        return Grant(all=True)
    scopes = set(Role.objects.filter(users=user).values_list("data_scope", flat=True))
    grant = Grant(user_ids=frozenset({user.pk}))
    if DataScope.ALL in scopes:
        return Grant(all=True)
    dept = user.department
    if DataScope.DEPT_TREE in scopes and dept is not None:
        grant |= Grant(department_ids=frozenset(subtree_ids([dept.path])))
    if DataScope.DEPT in scopes and dept is not None:
        grant |= Grant(department_ids=frozenset({dept.pk}))
    if DataScope.SELF_AND_SUBORDINATES in scopes:
        grant |= Grant(user_ids=frozenset(subordinate_ids(user)))
    return grant


def same_name_users(full_name: str) -> list[User]:
    """The active people called ``full_name``, written with full-width or half-width spaces and brackets."""
    names = {full_name, User.normalize_username(full_name)}
    return list(User.objects.filter(full_name__in=names, is_active=True).order_by("id"))


def department_tree() -> list[Department]:
    """All departments in tree order (parents before children), with their managers."""
    return list(Department.objects.select_related("manager", "parent").order_by("path"))


def member_counts() -> dict[int, int]:
    from django.db.models import Count

    rows = User.objects.filter(is_active=True).values("department").annotate(n=Count("id"))
    return {r["department"]: r["n"] for r in rows if r["department"] is not None}


VERBS = {"view": _("查看"), "add": _("新增"), "change": _("修改"), "delete": _("删除")}


def permission_label(perm: Permission) -> str:
    """A permission's name in the interface language (the stored name is fixed at migration time)."""
    model = perm.content_type.model_class()
    if model is None:
        return perm.name
    verb, _sep, rest = perm.codename.partition("_")
    if verb in VERBS and rest == model._meta.model_name:
        return _("%(verb)s%(model)s") % {"verb": VERBS[verb], "model": model._meta.verbose_name}
    custom = dict(model._meta.permissions)
    return str(custom.get(perm.codename, perm.name))


# What a person leaves unfinished, for the administrator who deactivates them. The apps built on accounts (the
# approval engine, …) register their note here, since accounts may not import them.
UnfinishedWork = Callable[[User], str | None]
_unfinished_work: list[UnfinishedWork] = []


def register_unfinished_work(note: UnfinishedWork) -> None:
    if note not in _unfinished_work:
        _unfinished_work.append(note)


def unfinished_work(user: User) -> list[str]:
    """The notes of every app about what ``user`` leaves undone (none when nothing is)."""
    return [text for note in _unfinished_work if (text := note(user))]
