"""Background tasks (Django's tasks framework, run by ``manage.py db_worker``): the daily expiry and the yearly
level review. Cron or a systemd timer can run the same work with ``manage.py points_expire`` and
``manage.py level_review`` (docs/deployment.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.tasks import task

from . import services


@task
def expire_points(today: str | None = None) -> dict[str, int]:
    """Expire the points dated ``today`` (ISO date; the club's today by default) or earlier."""
    return services.points_expire(today=date.fromisoformat(today) if today else None)


@task
def review_levels(today: str | None = None, force: bool = False) -> dict[str, Any]:
    """The yearly level review as of ``today`` (ISO date; the club's today by default)."""
    return services.level_yearly_review(today=date.fromisoformat(today) if today else None, force=force)
