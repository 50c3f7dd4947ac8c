"""Writes for people and organisation. Each service validates, writes in one transaction and audits."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat, Substr
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit, audited
from crm.core.models import AuditAction
from crm.core.scope import ensure_in_scope

from .models import Department, Position, Role, User
from .selectors import permission_label

USER_FIELDS = ("username", "full_name", "mobile", "department", "position", "roles", "is_active")
DEPARTMENT_FIELDS = ("name", "parent", "manager", "sort")
ROLE_FIELDS = ("name", "description", "data_scope")  # permissions: see role_save


def new_initial_password() -> str:
    configured = settings.CRM_INITIAL_PASSWORD
    if configured == "random":
        return f"{secrets.randbelow(10**8):08d}"
    return str(configured)


def suggest_username(full_name: str, department: Department | None) -> str:
    """The full name, or for a second person of that name ``姓名(部门)``."""
    if not User.objects.filter(username=full_name).exists():
        return full_name
    base = f"{full_name}({department.name})" if department else full_name
    candidate, n = base, 2
    while User.objects.filter(username=candidate).exists():
        candidate, n = f"{base}{n}", n + 1
    return candidate


def _set_initial_password(user: User) -> str:
    password = new_initial_password()
    user.set_password(password)
    user.initial_password_set_at = timezone.now()
    return password


@transaction.atomic
def user_create(
    *,
    actor: Any,
    full_name: str,
    username: str = "",
    mobile: str = "",
    department: Department | None = None,
    position: Position | None = None,
    roles: Iterable[Role] = (),
    is_active: bool = True,
    request: HttpRequest | None = None,
) -> tuple[User, str]:
    """Create a person with the initial password; returns the user and that password (to show once)."""
    full_name = full_name.strip()
    typed = (username or "").strip()
    username = typed or suggest_username(full_name, department)
    longest = User._meta.get_field("username").max_length or 0
    if not typed and len(username) > longest:
        # The administrator left 登录名 empty: its "too long" would point at a field they never typed in.
        raise ValidationError(
            _("由姓名生成的登录名「%(login)s」过长(最多 %(max)d 个字符),请在「登录名」中填写一个较短的登录名。")
            % {"login": username, "max": longest}
        )
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": _("登录名「%(name)s」已被使用,请换一个。") % {"name": username}})
    user = User(
        username=username,
        full_name=full_name,
        mobile=mobile,
        department=department,
        position=position,
        is_active=is_active,
    )
    password = _set_initial_password(user)
    with audited(actor=actor, obj=user, fields=USER_FIELDS, request=request):
        user.full_clean(exclude=["password"])
        user.save()
        user.roles.set(roles)
        ensure_in_scope(actor, user)
    return user, password


@transaction.atomic
def user_update(*, actor: Any, user: User, data: dict[str, Any], request: HttpRequest | None = None) -> User:
    """Change a person's data (the administration page's edit)."""
    roles = data.pop("roles", None)
    with audited(actor=actor, obj=user, fields=USER_FIELDS, request=request):
        for name, value in data.items():
            setattr(user, name, value)
        user.full_clean(exclude=["password"])
        user.save()
        if roles is not None:
            user.roles.set(roles)
        ensure_in_scope(actor, user)
    # A deactivated person's sessions end by themselves: the auth backend refuses inactive users.
    return user


@transaction.atomic
def user_reset_password(*, actor: Any, user: User, request: HttpRequest | None = None) -> str:
    password = _set_initial_password(user)
    user.save(update_fields=["password", "initial_password_set_at"])
    axes_reset(username=user.username)
    # The new password hash invalidates every existing session of this person.
    audit(actor=actor, action=AuditAction.PASSWORD_RESET, obj=user, request=request)
    return password


@dataclass(frozen=True)
class WorkHandover:
    """Work a person holds that an administrator can give to a colleague (【转交待办】 on the person's page):
    ``count`` says how much they hold; ``give`` moves it and returns the sentence that says what it did. The apps
    built on accounts (the approval engine, …) register theirs here, since accounts may not import them."""

    count: Callable[[User], int]
    give: Callable[[Any, User, User, HttpRequest | None], tuple[int, str]]  # (how many moved, the sentence)


_handovers: list[WorkHandover] = []


def register_work_handover(handover: WorkHandover) -> None:
    if handover not in _handovers:
        _handovers.append(handover)


def work_to_hand_over(user: User) -> int:
    """How many items ``user`` holds that 【转交待办】 would move."""
    return sum(h.count(user) for h in _handovers)


@transaction.atomic
def user_hand_over_work(
    *, actor: Any, user: User, to_user: User, request: HttpRequest | None = None
) -> list[tuple[int, str]]:
    """【转交待办】: give everything ``user`` holds to ``to_user`` (an active colleague); for each kind of work, how
    many items moved and the sentence that says what moved and what did not."""
    if to_user is None or not to_user.is_active or to_user.pk == user.pk:
        raise ValidationError(_("请选择一位在用的同事接替。"))
    return [h.give(actor, user, to_user, request) for h in _handovers if h.count(user)]


def user_unlock(*, actor: Any, user: User, request: HttpRequest | None = None) -> int:
    """Lift the login lock of a person (all IPs). Returns the number of lock records removed."""
    removed = axes_reset(username=user.username)
    audit(actor=actor, action=AuditAction.UNLOCK, obj=user, request=request)
    return removed


@transaction.atomic
def password_change(*, user: User, new_password: str, request: HttpRequest) -> None:
    """Set the person's own new password; the session is rotated and other sessions end."""
    user.set_password(new_password)
    user.initial_password_set_at = None
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "initial_password_set_at", "password_changed_at"])
    update_session_auth_hash(request, user)
    audit(actor=user, action=AuditAction.PASSWORD_CHANGE, obj=user, request=request)


# ---------------------------------------------------------------------------------------------------
# Departments
# ---------------------------------------------------------------------------------------------------


@transaction.atomic
def department_save(
    *, actor: Any, department: Department, data: dict[str, Any], request: HttpRequest | None = None
) -> Department:
    """Create or change a department; moving it moves its whole subtree."""
    created = department.pk is None
    with audited(actor=actor, obj=department, fields=DEPARTMENT_FIELDS, request=request):
        old_path = department.path
        for name, value in data.items():
            setattr(department, name, value)
        parent = department.parent
        if parent is not None and department.pk is not None and f"/{department.pk}/" in parent.path:
            raise ValidationError({"parent": _("上级部门不能是本部门或其下级部门。")})
        # The database's unique (parent, name) does not hold between top-level departments (NULL parents).
        namesakes = Department.objects.filter(parent=parent, name=department.name).exclude(pk=department.pk)
        if namesakes.exists():
            if parent is None:
                message = _("已有名为「%(name)s」的顶级部门,请换一个名称。")
            else:
                message = _("「%(parent)s」下已有名为「%(name)s」的部门,请换一个名称。")
            raise ValidationError({"name": message % {"name": department.name, "parent": parent}})
        department.full_clean(exclude=["path"])
        department.save()
        new_path = f"{parent.path if parent else '/'}{department.pk}/"
        if new_path != old_path:
            # The department and its whole subtree in one statement: each path's old prefix becomes the new one.
            moved = Q(pk=department.pk) if created else Q(path__startswith=old_path)
            Department.objects.filter(moved).update(path=Concat(Value(new_path), Substr("path", len(old_path) + 1)))
            department.path = new_path
    return department


@transaction.atomic
def department_delete(*, actor: Any, department: Department, request: HttpRequest | None = None) -> None:
    if department.children.exists():
        raise ValidationError(_("部门「%(name)s」还有下级部门,不能删除。") % {"name": department.name})
    if department.members.exists():
        raise ValidationError(_("部门「%(name)s」还有人员,不能删除。") % {"name": department.name})
    audit(actor=actor, action=AuditAction.DELETE, obj=department, request=request)
    department.delete()


# ---------------------------------------------------------------------------------------------------
# Roles and positions
# ---------------------------------------------------------------------------------------------------


@transaction.atomic
def role_save(
    *,
    actor: Any,
    role: Role,
    data: dict[str, Any],
    permissions: Iterable[Permission] | None = None,
    offered: Iterable[Permission] | None = None,
    request: HttpRequest | None = None,
) -> Role:
    """Create or change a role. ``permissions`` are the role's permissions among ``offered`` (those the role page
    shows); the role keeps the others it holds, so saving the page never takes away a permission the page does
    not show. Without ``offered``, ``permissions`` is the role's whole set."""
    with audited(actor=actor, obj=role, fields=ROLE_FIELDS, request=request) as extra:
        for name, value in data.items():
            setattr(role, name, value)
        role.full_clean()
        role.save()
        if permissions is not None:
            held = set(role.permissions.select_related("content_type"))
            shown = {p.pk for p in offered} if offered is not None else {p.pk for p in held}
            wanted = {p for p in held if p.pk not in shown} | set(permissions)
            role.permissions.set(wanted)
            if wanted != held:
                # Only what changed, in the words of the role page: the whole list would hide it.
                extra["permissions"] = [_permission_labels(held - wanted), _permission_labels(wanted - held)]
    return role


def _permission_labels(permissions: Iterable[Permission]) -> list[str]:
    return sorted(permission_label(p) for p in permissions)


@transaction.atomic
def position_save(
    *, actor: Any, position: Position, data: dict[str, Any], request: HttpRequest | None = None
) -> Position:
    with audited(actor=actor, obj=position, fields=("name", "sort"), request=request):
        for name, value in data.items():
            setattr(position, name, value)
        position.full_clean()
        position.save()
    return position
