"""The one data-scope mechanism (数据权限).

Every list, detail, edit and export gets its rows through ``Model.objects.for_user(user, action)``.
``core`` knows nothing of departments or roles: the user object resolves its own grant
(``user.data_grant(action)``, implemented by ``crm.accounts``) into a :class:`Grant`, and a scoped
model names the fields a grant is matched against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DataScope(models.TextChoices):
    ALL = "all", _("全部")
    DEPT_TREE = "dept_tree", _("本部门及下级")
    DEPT = "dept", _("本部门")
    SELF_AND_SUBORDINATES = "self_sub", _("本人及下属")
    SELF = "self", _("仅本人")


ACTIONS = ("view", "change", "delete", "export")


@dataclass(frozen=True)
class Grant:
    """What a user may reach: everything, or rows of these departments or owned by these users."""

    all: bool = False
    department_ids: frozenset[int] = field(default_factory=frozenset)
    user_ids: frozenset[int] = field(default_factory=frozenset)

    def __or__(self, other: Grant) -> Grant:
        return Grant(
            all=self.all or other.all,
            department_ids=self.department_ids | other.department_ids,
            user_ids=self.user_ids | other.user_ids,
        )

    @property
    def empty(self) -> bool:
        return not (self.all or self.department_ids or self.user_ids)


class ScopedUser(Protocol):
    is_authenticated: bool

    def data_grant(self, action: str, *, fresh: bool = False) -> Grant: ...


class ScopedQuerySet(models.QuerySet):
    """A queryset that knows how to restrict itself to what a user may reach."""

    def for_user(self, user: Any, action: str = "view", *, fresh: bool = False) -> ScopedQuerySet:
        """Rows ``user`` may reach for ``action``. ``fresh`` recomputes the user's grant (after a write
        that may have changed the organisation) instead of the one cached for the request."""
        if action not in ACTIONS:
            raise ValueError(f"unknown scope action {action!r}")
        if user is None or not getattr(user, "is_authenticated", False):
            return self.none()
        grant: Grant = user.data_grant(action, fresh=fresh)
        if grant.all:
            return self
        q = scope_q(self.model, grant)
        # A model may also open its rows to the people taking part in them (an approver, a handler).
        participant = getattr(self.model, "scope_participant_q", None)
        if participant is not None:
            q = participant(user) if q is None else q | participant(user)
        return self.filter(q) if q is not None else self.none()


def scope_q(model: type[models.Model], grant: Grant) -> Q | None:
    """The filter a grant puts on a model; ``None`` when nothing is reachable."""
    owner_fields: Iterable[str] = getattr(model, "scope_owner_fields", ())
    department_field: str | None = getattr(model, "scope_department_field", None)
    q = Q()
    matched = False
    if grant.department_ids and department_field:
        q |= Q(**{f"{department_field}__in": sorted(grant.department_ids)})
        matched = True
    if grant.user_ids:
        for name in owner_fields:
            q |= Q(**{f"{name}__in": sorted(grant.user_ids)})
            matched = True
    return q if matched else None


def ensure_in_scope(actor: Any, obj: models.Model, action: str = "change") -> None:
    """Re-read ``obj`` through ``actor``'s scope after a write (inside the write's transaction): an edit may
    not move a record out of its editor's own reach. Raises ``ValidationError``, which rolls the write back."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return
    manager: Any = type(obj)._default_manager
    if not manager.for_user(actor, action, fresh=True).filter(pk=obj.pk).exists():
        raise ValidationError(_("保存后该记录将超出您的数据权限范围,未保存。请联系上级或管理员处理。"))


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)
