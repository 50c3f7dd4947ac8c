"""Reads of the approval engine: 〖待办业务〗, 已办, 我的申请, the timeline."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from .models import Application, Event, Task, TaskStatus
from .registry import form_types


def todo(user: Any) -> QuerySet[Task]:
    return Task.objects.filter(approver=user, status=TaskStatus.PENDING)


def todo_counts(user: Any) -> dict[str, int]:
    """Pending items of ``user`` by form type (served by the partial index on pending tasks)."""
    rows = todo(user).order_by().values("form_type").annotate(n=Count("id"))
    return {r["form_type"]: r["n"] for r in rows}


def todo_groups(user: Any) -> list[tuple[str, Any, int]]:
    """(form type key, label, count) for each type with pending items, in registration order."""
    counts = todo_counts(user)
    return [(ft.key, ft.label, counts[ft.key]) for ft in form_types.all() if counts.get(ft.key)]


def done(user: Any) -> QuerySet[Task]:
    return Task.objects.filter(approver=user).exclude(status__in=[TaskStatus.PENDING, TaskStatus.CANCELLED])


def mine(user: Any) -> QuerySet[Application]:
    """〖我的申请〗: what ``user`` applied for, and what colleagues handed to them (【流转】)."""
    return Application.objects.filter(Q(applicant=user) | Q(handler=user))


def timeline(app: Application) -> QuerySet[Event]:
    return app.events.select_related("actor", "target").order_by("at", "id")
