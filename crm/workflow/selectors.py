"""Reads of the approval engine: 〖待办业务〗, 已办, 我的申请, the timeline."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from .models import Application, Event, Task, TaskStatus
from .registry import form_types


def todo(user: Any) -> QuerySet[Task]:
    return Task.objects.filter(approver=user, status=TaskStatus.PENDING)


def todo_count(user: Any) -> int:
    return todo(user).count()


def todo_counts(user: Any) -> dict[str, int]:
    """Pending items of ``user`` by form type (served by the partial index on pending tasks)."""
    rows = todo(user).order_by().values("form_type").annotate(n=Count("id"))
    return {r["form_type"]: r["n"] for r in rows}


def todo_groups(user: Any) -> list[tuple[str, Any, int]]:
    """(form type key, label, count) for each type with pending items, in registration order."""
    counts = todo_counts(user)
    return [(ft.key, ft.label, counts[ft.key]) for ft in form_types.all() if counts.get(ft.key)]


def waiting_only_for(user: Any) -> int:
    """How many applications wait for ``user`` alone: a pending task of theirs at a step that no other active
    approver can finish (a 会签 step needs every approver)."""
    others = Task.objects.filter(
        application=OuterRef("application"),
        round=OuterRef("round"),
        step=OuterRef("step"),
        status=TaskStatus.PENDING,
        approver__is_active=True,
    ).exclude(approver=user)
    tasks = todo(user).select_related("application").annotate(shared=Exists(others))
    return sum(1 for t in tasks if not t.shared or t.application.steps[t.step].get("all"))


def unfinished_approvals(user: Any) -> str | None:
    """For the administrator deactivating ``user``: the applications left waiting for them."""
    n = waiting_only_for(user)
    if not n:
        return None
    return _(
        "「%(name)s」还有 %(n)d 张申请单在等其审批,停用后无人能处理:请在本页选择接替的同事,【转交待办】"
        "(如其是部门负责人,请同时为部门指定新的负责人)。"
    ) % {"name": user.full_name, "n": n}


def done(user: Any) -> QuerySet[Task]:
    return Task.objects.filter(approver=user).exclude(status__in=[TaskStatus.PENDING, TaskStatus.CANCELLED])


def mine(user: Any) -> QuerySet[Application]:
    """〖我的申请〗: what ``user`` applied for, and what colleagues handed to them (【流转】)."""
    return Application.objects.filter(Q(applicant=user) | Q(handler=user))


def timeline(app: Application) -> QuerySet[Event]:
    return app.events.select_related("actor", "target").order_by("at", "id")
