"""Background tasks of the foundation (Django's tasks framework, run by ``manage.py db_worker``)."""

from __future__ import annotations

from typing import Any

from django.tasks import task

from . import imports


@task
def run_import(batch_id: int) -> dict[str, Any]:
    """The commit or undo of a big import (``crm.core.imports.enqueue``)."""
    return imports.run_job(batch_id)
