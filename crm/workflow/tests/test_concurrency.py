"""Two approvers acting on the same step at once, on real PostgreSQL connections: one wins, the other is told
the item has moved on, and the effect runs once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections

from crm.accounts.demo import load_demo
from crm.accounts.models import User
from crm.workflow import engine
from crm.workflow.errors import WorkflowError
from crm.workflow.models import ApproverKind, Status
from crm.workflow.testing.models import SampleRequest

from .conftest import make_chain, new_app, role

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent connections (PostgreSQL)"),
]


def race(app_id: int, actors: list[User], rounds: int = 1) -> tuple[list[str], list[str]]:
    barrier = threading.Barrier(len(actors))
    wins: list[str] = []
    refusals: list[str] = []
    lock = threading.Lock()

    def act(actor: User) -> None:
        try:
            barrier.wait()
            engine.transition(app_id, "approve", actor=actor, opinion="同意")
            with lock:
                wins.append(actor.username)
        except WorkflowError as exc:
            with lock:
                refusals.append(exc.messages[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=act, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wins, refusals


@pytest.mark.parametrize("attempt", range(5))
def test_two_approvers_one_wins_effect_once(attempt: int, settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_demo()
    make_chain({"approver_kind": ApproverKind.ROLE, "role": role("销售经理")})
    people = {u.username: u for u in User.objects.all()}
    app = engine.transition(new_app(people["张伟"]), "submit", actor=people["张伟"])
    wins, refusals = race(app.pk, [people["李明"], people["周丽"]])
    assert len(wins) == 1 and len(refusals) == 1
    assert "已通过" in refusals[0] or "审批人" in refusals[0]
    app.refresh_from_db()
    assert app.status == Status.APPROVED
    assert SampleRequest.objects.get(application=app).effects == 1


def test_the_same_approver_twice_at_once(settings: Any) -> None:
    """A double click, or two tabs: the second request finds the task already handled."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_demo()
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER}, {"approver_kind": ApproverKind.DIRECTOR})
    people = {u.username: u for u in User.objects.all()}
    app = engine.transition(new_app(people["张伟"]), "submit", actor=people["张伟"])
    wins, refusals = race(app.pk, [people["李明"], people["李明"]])
    assert len(wins) == 1 and refusals == ["您不是该申请单当前步骤的审批人,或已经处理过。"]
    app.refresh_from_db()
    assert app.current_step == 1 and app.tasks.filter(step=1).count() == 1
