"""Random sequences of actions by random people over random chains, against the engine's invariants."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from crm.accounts.demo import load_demo
from crm.accounts.models import Role, User
from crm.workflow import engine
from crm.workflow.errors import WorkflowError
from crm.workflow.models import Application, ApproverKind, Event, EventAction, Status, Task, TaskStatus
from crm.workflow.selectors import todo_counts
from crm.workflow.testing.models import SampleRequest

from .conftest import make_chain, new_app

APPLICANTS = ["张伟", "刘洋", "杨帆", "张伟(销售二组)", "李明"]
ACTORS = ["张伟", "刘洋", "杨帆", "李明", "周丽", "王建国", "赵志刚", "陈静"]
ACTIONS = ["submit", "approve", "reject", "return", "withdraw", "transfer", "take_back"]

step_specs = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["dept_manager", "director", "role_manager", "role_director", "user"]),
            "all": st.booleans(),
            "assign": st.booleans(),
        }
    ),
    min_size=0,
    max_size=3,
)


class WorkflowMachine(RuleBasedStateMachine):
    apps = Bundle("apps")

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint_create()
        self.people = {u.username: u for u in User.objects.all()}
        self.approvals: dict[int, int] = {}  # application id -> times it became approved

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    @initialize(specs=step_specs)
    def chain(self, specs: list[dict[str, Any]]) -> None:
        roles = {r.name: r for r in Role.objects.all()}
        steps = []
        for i, spec in enumerate(specs):
            kind = spec["kind"]
            step: dict[str, Any] = {"all_must_approve": spec["all"]}
            if kind.startswith("role_"):
                step.update(
                    approver_kind=ApproverKind.ROLE, role=roles["销售经理" if kind == "role_manager" else "销售总监"]
                )
            elif kind == "user":
                step.update(approver_kind=ApproverKind.USER, user=self.people["赵志刚"])
            else:
                step["approver_kind"] = kind
            if spec["assign"] and i + 1 < len(specs):
                # the next step is whoever this one names (分配), a 业务员 or 销售经理
                step["assign_role"] = roles["销售经理"]
            steps.append(step)
        for i in range(1, len(steps)):
            if steps[i - 1].get("assign_role"):
                steps[i] = {"approver_kind": ApproverKind.ASSIGNED, "all_must_approve": False}
        make_chain(*steps)

    @rule(target=apps, applicant=st.sampled_from(APPLICANTS), amount=st.integers(0, 20000))
    def create(self, applicant: str, amount: int) -> Application:
        return new_app(self.people[applicant], amount=amount)

    @rule(app=apps, action=st.sampled_from(ACTIONS), who=st.sampled_from(ACTORS), data=st.data())
    def act(self, app: Application, action: str, who: str, data: st.DataObject) -> None:
        app.refresh_from_db()
        actor = self.people[who]
        before = (app.status, app.current_step, app.round, Event.objects.filter(application=app).count())
        opened = app.tasks.filter(round=app.round, step=app.current_step, opened_at__isnull=False).exists()
        kw: dict[str, Any] = {}
        if action in ("reject", "return"):
            kw["opinion"] = data.draw(st.sampled_from(["", "请补充材料"]))
        if action == "approve" and app.step and app.step["assign_role"]:
            kw["assign_to"] = self.people[data.draw(st.sampled_from(["李明", "周丽", "张伟"]))]
        if action == "transfer":
            kw["transfer_to"] = self.people[data.draw(st.sampled_from(["刘洋", "张伟", "杨帆"]))]
        was = app.status
        try:
            app = engine.transition(app, action, actor=actor, **kw)
        except WorkflowError:
            app.refresh_from_db()
            after = (app.status, app.current_step, app.round, Event.objects.filter(application=app).count())
            assert after == before, "a refused action changed something"
            return
        if action == "withdraw":
            assert not opened, "withdrawn after an approver opened it"
        if app.status == Status.APPROVED and was != Status.APPROVED:
            self.approvals[app.pk] = self.approvals.get(app.pk, 0) + 1

    @rule(app=apps, who=st.sampled_from(ACTORS))
    def open(self, app: Application, who: str) -> None:
        app.refresh_from_db()
        engine.mark_opened(app, self.people[who])

    @invariant()
    def every_status_change_has_a_timeline_row(self) -> None:
        for app in Application.objects.all():
            last = Event.objects.filter(application=app).order_by("at", "id").last()
            assert last is not None and last.status_after == app.status

    @invariant()
    def approved_only_after_every_step_and_effect_once(self) -> None:
        for app in Application.objects.all():
            effects = SampleRequest.objects.get(application=app).effects
            if app.status == Status.APPROVED:
                assert effects == 1 == self.approvals.get(app.pk, 0)
                for i in range(len(app.steps)):
                    passed = app.events.filter(
                        round=app.round, step=i, action__in=[EventAction.APPROVE, EventAction.ASSIGN]
                    )
                    assert passed.exists(), f"step {i} never passed"
                    if app.steps[i]["all"]:
                        assert (
                            not app.tasks.filter(round=app.round, step=i).exclude(status=TaskStatus.APPROVED).exists()
                        )
            else:
                assert effects == 0

    @invariant()
    def pending_tasks_match_states_and_counts(self) -> None:
        for app in Application.objects.all():
            pending = app.tasks.filter(status=TaskStatus.PENDING)
            if app.status == Status.IN_PROGRESS:
                assert pending.exists() and not pending.exclude(round=app.round, step=app.current_step).exists()
            else:
                assert not pending.exists()
        for user in self.people.values():
            counts = todo_counts(user)
            assert sum(counts.values()) == Task.objects.filter(approver=user, status=TaskStatus.PENDING).count()


class StatefulWorkflowTest(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        load_demo()

    def test_random_sequences_keep_the_invariants(self) -> None:
        run_state_machine_as_test(
            WorkflowMachine,
            settings=settings(
                max_examples=40,
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )


def test_only_the_engine_writes_an_application_status() -> None:
    """No code but engine.transition's rules assigns an application's status."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    pattern = re.compile(r"(\.status\s*=\s*Status\.|\.status\s*,.*=\s*Status\.|\.update\([^)]*\bstatus=Status\.)")
    for path in root.rglob("*.py"):
        if "tests" in path.parts or path.name == "engine.py" or "migrations" in path.parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line) and "TaskStatus" not in line:
                offenders.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert offenders == []
