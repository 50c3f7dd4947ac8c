"""Reads for people and organisation; the data-scope grant of a user."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db.models import BooleanField, Case, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from crm.core.scope import DataScope, Grant

from .models import Department, Role, User


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


def same_name_users(full_name: str, *, include_inactive: bool = False) -> list[User]:
    """The active people (or everyone, with ``include_inactive``) called ``full_name``, written with full-width or
    half-width spaces and brackets."""
    names = {full_name, User.normalize_username(full_name)}
    people = User.objects.filter(full_name__in=names)
    if not include_inactive:
        people = people.filter(is_active=True)
    return list(people.select_related("department", "position").order_by("id"))


def describe_user(user: User) -> str:
    """A person as the administrator tells namesakes apart: 「张伟(销售一组、业务员、登录名「张伟」)」."""
    parts = [str(x) for x in (user.department, user.position) if x is not None]
    parts.append(_("登录名「%(login)s」") % {"login": user.username})
    if not user.is_active:
        parts.append(str(_("已停用")))
    return f"{user.full_name}({'、'.join(parts)})"


# ---------------------------------------------------------------------------------------------------
# Login locks (django-axes)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginLock:
    """A person locked out by too many failed logins. ``until``: when the lock lifts by itself (``None``: never,
    without a cool-off; an administrator's 【解除锁定】 lifts it)."""

    until: datetime | None

    @property
    def lifts_at(self) -> datetime | None:
        """``until`` rounded up to the minute, as the page says it: a try at the minute shown is let in."""
        if self.until is None:
            return None
        return (self.until + timedelta(minutes=1, microseconds=-1)).replace(second=0, microsecond=0)

    @property
    def lifts_label(self) -> str:
        """``lifts_at`` in the club's time: 「14:38」 today, 「2026-03-02 09:15」 on another day."""
        if self.lifts_at is None:
            return ""
        local = timezone.localtime(self.lifts_at)
        return date_format(local, "H:i" if local.date() == timezone.localdate() else "Y-m-d H:i")


def _lockout_sets() -> list[tuple[str, ...]]:
    """The AXES_LOCKOUT_PARAMETERS that lock a person (name ``username``), e.g. ("username", "ip_address"): one
    person on one computer. A set without the username locks a computer for everyone, not a person."""
    sets = [(p,) if isinstance(p, str) else tuple(p) for p in settings.AXES_LOCKOUT_PARAMETERS]
    return [s for s in sets if "username" in s]


def login_locks(usernames: Iterable[str] | None = None, *, now: datetime | None = None) -> dict[str, LoginLock]:
    """The people locked out now by too many failed logins (of ``usernames``, or all), by login name; one query.

    Counted as django-axes' database handler counts: the failures of one set of lockout values (one person on
    one computer) within the cool-off add up, and at AXES_FAILURE_LIMIT that set is locked until enough of them are
    older than the cool-off: the lock lifts a cool-off after the attempt at which the failures, counted from the
    newest back, reach the limit. A person is locked while any of their sets is; the lock lifts with the last."""
    from axes.helpers import get_cool_off
    from axes.models import AccessAttempt

    sets = _lockout_sets()
    if not sets or not getattr(settings, "AXES_LOCK_OUT_AT_FAILURE", True):
        return {}
    limit = int(settings.AXES_FAILURE_LIMIT)
    cool_off = get_cool_off()
    attempts = AccessAttempt.objects.filter(username__in=User.objects.values("username"))
    if usernames is not None:
        attempts = attempts.filter(username__in=list(usernames))
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=(now or timezone.now()) - cool_off)
    rows = list(
        attempts.order_by("-attempt_time").values(
            "username", "ip_address", "user_agent", "attempt_time", "failures_since_start"
        )
    )
    locks: dict[str, LoginLock] = {}
    for fields in sets:
        counted: dict[tuple[object, ...], int] = {}
        for row in rows:  # newest first
            key = tuple(row[f] for f in fields)
            before = counted.get(key, 0)
            counted[key] = before + row["failures_since_start"]
            if before < limit <= counted[key]:
                until = row["attempt_time"] + cool_off if cool_off is not None else None
                held = locks.get(row["username"])
                if held is None or (held.until is not None and (until is None or until > held.until)):
                    locks[row["username"]] = LoginLock(until)
    return locks


def login_lock(username: str, *, now: datetime | None = None) -> LoginLock | None:
    """Whether the person of login name ``username`` is locked out now by too many failed logins, until when."""
    return login_locks([username], now=now).get(username)


def with_login_locked(qs: QuerySet[User], locked: Collection[str]) -> QuerySet[User]:
    """``qs`` with ``login_locked`` (bool): whether the person is among ``locked`` (login names, from
    ``login_locks``), for a list and its export alike."""
    if not locked:
        return qs.annotate(login_locked=Value(False, output_field=BooleanField()))
    return qs.annotate(login_locked=Case(When(username__in=list(locked), then=Value(True)), default=Value(False)))


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
