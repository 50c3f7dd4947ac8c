"""The approval engine: one state machine for every form type.

    草稿 ──提交──▶ 审批中 (step k of n) ──通过 (last step)──▶ 已通过 (the form type's effect runs)
      ▲               │ 通过 (not last) ─▶ step k+1      └──拒绝──▶ 已拒绝
      └──退回 / 撤销──┘

``transition`` is the only code that writes an application's status. Every action is a ``Rule``: the states
it starts from, a guard (who may, and when) and what it does. Guards also tell the pages which buttons to show.

Who approves a step (``approvers.step_approvers``): the department steps climb the applicant's line of
managers, his department's manager first (申请人部门负责人), the one above next (总监). Nobody approves his own
application on them, so a manager's application starts with the manager above him. When the line runs out
above the applicant (a manager's application has reached the top manager of his line, or that top manager
applies himself), the department steps left are skipped, each with a note in the timeline: there is nobody
above to ask. A step that finds nobody for any other reason (too few managers on the line of an applicant who
manages nothing himself, a manager above him no longer active, a role nobody holds) stops the submission with
a message for the administrator: a gap in the organisation is never a free pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.audit import audit
from crm.core.models import AuditAction

from .approvers import (
    above_the_top,
    assign_candidates,
    condition_holds,
    managers_above,
    step_approvers,
    top_step,
    transfer_candidates,
)
from .errors import WorkflowError
from .models import Application, Chain, Event, EventAction, Status, Task, TaskStatus
from .registry import form_types

ACTION_LABELS = {
    "submit": gettext_lazy("提交"),
    "approve": gettext_lazy("通过"),
    "reject": gettext_lazy("拒绝"),
    "return": gettext_lazy("退回"),
    "withdraw": gettext_lazy("撤销"),
    "transfer": gettext_lazy("流转"),
    "take_back": gettext_lazy("收回"),
}


def approval_label(app: Application, step_index: int | None = None) -> str:
    """The name of 【通过】 at a step (by default the current one): the step's own, else the form type's
    (【提交】 in lead review), else 通过."""
    shown = app.current_step if step_index is None else step_index
    step = app.steps[shown] if shown is not None and shown < len(app.steps) else {}
    ft = form_types.get(app.form_type)
    return str(step.get("label") or (ft.approve_label if ft else "") or ACTION_LABELS["approve"])


def _current_tasks(app: Application) -> QuerySet[Task]:
    """The tasks of the step the application is at, in its current submission."""
    return app.tasks.filter(round=app.round, step=app.current_step)  # type: ignore[misc]


# --- guards: raise WorkflowError when ``actor`` may not do it now -------------------------------------------


def _applicant_only(app: Application, actor: Any) -> None:
    if actor.pk != app.applicant_id:
        raise WorkflowError(_("只有申请人本人可以这样做。"))


def _my_task(app: Application, actor: Any) -> Task:
    task = _current_tasks(app).filter(approver=actor, status=TaskStatus.PENDING).first()
    if task is None:
        raise WorkflowError(_("您不是该申请单当前步骤的审批人,或已经处理过。"))
    return task


def _guard_task(app: Application, actor: Any) -> None:
    _my_task(app, actor)


def _guard_withdraw(app: Application, actor: Any) -> None:
    _applicant_only(app, actor)
    # An approver who has left no longer holds the application: it can be withdrawn and submitted again.
    opened = _current_tasks(app).filter(opened_at__isnull=False, approver__is_active=True).first()
    if opened is not None:
        raise WorkflowError(
            _("%(name)s 已于 %(at)s 打开该申请单,不能再撤销。")
            % {"name": opened.approver, "at": timezone.localtime(opened.opened_at).strftime("%Y-%m-%d %H:%M")}
        )


def _guard_transfer(app: Application, actor: Any) -> None:
    _applicant_only(app, actor)
    if not transfer_candidates(app, actor).exists():
        raise WorkflowError(_("本部门没有可以接收的同事。"))


def _guard_take_back(app: Application, actor: Any) -> None:
    if app.handler_id is None:
        raise WorkflowError(_("该申请单没有流转给别人。"))
    if actor.pk not in (app.applicant_id, app.handler_id):
        raise WorkflowError(_("只有申请人或接收人可以收回。"))


# --- what each action does -----------------------------------------------------------------------------


def _event(app: Application, actor: Any, action: str, *, opinion: str = "", target: Any = None) -> None:
    step = app.step
    Event.objects.create(
        application=app,
        actor=actor,
        action=action,
        round=app.round,
        step=app.current_step,
        step_name=str(step["name"]) if step else "",
        opinion=opinion,
        target=target,
        status_after=app.status,
    )


def _close_step(app: Application) -> None:
    _current_tasks(app).filter(status=TaskStatus.PENDING).update(status=TaskStatus.CANCELLED, acted_at=timezone.now())


def _skip_note(app: Application) -> str:
    """Why a department step is skipped: the applicant is at the top of his line, or the managers above him
    (who had the earlier steps) are, and the top one has nobody above."""
    above = managers_above(app)
    if not above:
        return _("申请人之上已没有更高一级的负责人,本步跳过。")
    return _("%(name)s之上已没有更高一级的负责人,本步跳过。") % {"name": above[-1].full_name}


def _enter(app: Application, index: int, actor: Any) -> None:
    """Move to step ``index``: create its tasks, or finish when the chain is done; a chain every step of which
    was skipped goes to the top of the club first (``top_step``)."""
    if index >= len(app.steps):
        top = top_step(app) if app.steps and not app.tasks.filter(round=app.round).exists() else None
        if top is not None:
            app.steps = [*app.steps, top]
            _enter(app, index, actor)
            return
        app.status, app.current_step, app.finished_at = Status.APPROVED, None, timezone.now()
        app.save()
        _event(app, actor, EventAction.FINISH)
        form_type = form_types.get(app.form_type)
        if form_type is not None and form_type.effect is not None:
            form_type.effect(form_type.instance_for(app), app, actor)
        return
    step = app.steps[index]
    approvers = step_approvers(app, step)
    if not approvers:
        if not above_the_top(app, step):
            raise WorkflowError(
                _("第 %(n)d 步「%(name)s」找不到审批人,请联系系统管理员检查流程配置或部门负责人。")
                % {"n": index + 1, "name": step["name"]}
            )
        app.current_step = index
        _event(app, None, EventAction.SKIP, opinion=_skip_note(app))
        _enter(app, index + 1, actor)
        return
    app.status, app.current_step = Status.IN_PROGRESS, index
    app.save()
    now = timezone.now()
    due = now + timedelta(hours=step["hours"]) if step["hours"] else None
    Task.objects.bulk_create(
        Task(
            application=app,
            round=app.round,
            step=index,
            approver=user,
            form_type=app.form_type,
            created_at=now,
            due_at=due,
        )
        for user in approvers
    )


def _submit(app: Application, actor: Any, **kw: Any) -> None:
    form_type = form_types.get(app.form_type)
    if form_type is None:
        raise WorkflowError(_("申请单类型「%(key)s」已不存在。") % {"key": app.form_type})
    instance = form_type.instance_for(app)
    chain = Chain.objects.filter(form_type=app.form_type).first()
    steps = chain.steps.all() if chain else []
    app.steps = [
        s.snapshot()
        for s in steps
        if not s.condition_field or condition_holds(instance, s.condition_field, s.condition_op, s.condition_value)
    ]
    app.round += 1
    app.returned, app.return_opinion, app.assignee, app.handler = False, "", None, None
    app.submitted_at = timezone.now()
    app.status, app.current_step = Status.IN_PROGRESS, None
    _event(app, actor, EventAction.SUBMIT)
    _enter(app, 0, actor)


def _approve(app: Application, actor: Any, *, opinion: str = "", assign_to: Any = None, **kw: Any) -> None:
    task = _my_task(app, actor)
    step = app.step
    assert step is not None
    if step["assign_role"]:
        if assign_to is None:
            raise WorkflowError(_("请选择【分配】给谁。"))
        if not assign_candidates(actor, step).filter(pk=assign_to.pk).exists():
            raise WorkflowError(_("不能分配给「%(name)s」:不在本步骤可分配的人员中。") % {"name": assign_to})
        app.assignee = assign_to
    elif assign_to is not None:
        raise WorkflowError(_("本步骤不需要分配处理人。"))
    task.status, task.acted_at = TaskStatus.APPROVED, timezone.now()
    task.save(update_fields=["status", "acted_at"])
    _event(app, actor, EventAction.ASSIGN if assign_to else EventAction.APPROVE, opinion=opinion, target=assign_to)
    if step["all"] and _current_tasks(app).filter(status=TaskStatus.PENDING).exists():
        return  # 会签: the step waits for the others
    _close_step(app)
    _enter(app, (app.current_step or 0) + 1, actor)


def _require_opinion(opinion: str, action: str) -> None:
    if not opinion.strip():
        raise WorkflowError(_("【%(action)s】时必须填写审批意见。") % {"action": ACTION_LABELS[action]})


def _end_by_approver(app: Application, actor: Any, opinion: str, action: str) -> None:
    _require_opinion(opinion, action)
    task = _my_task(app, actor)
    task.status = TaskStatus.REJECTED if action == "reject" else TaskStatus.RETURNED
    task.acted_at = timezone.now()
    task.save(update_fields=["status", "acted_at"])
    _close_step(app)
    app.current_step = None
    if action == "reject":
        app.status, app.finished_at = Status.REJECTED, timezone.now()
        event = EventAction.REJECT
    else:
        app.status, app.returned, app.return_opinion = Status.DRAFT, True, opinion
        event = EventAction.RETURN
    app.save()
    _event(app, actor, event, opinion=opinion)


def _reject(app: Application, actor: Any, *, opinion: str = "", **kw: Any) -> None:
    _end_by_approver(app, actor, opinion, "reject")


def _return(app: Application, actor: Any, *, opinion: str = "", **kw: Any) -> None:
    _end_by_approver(app, actor, opinion, "return")


def _withdraw(app: Application, actor: Any, **kw: Any) -> None:
    _close_step(app)
    app.status, app.current_step = Status.DRAFT, None
    app.save()
    _event(app, actor, EventAction.WITHDRAW)


def _transfer(app: Application, actor: Any, *, transfer_to: Any = None, can_edit: bool = False, **kw: Any) -> None:
    if transfer_to is None or not transfer_to.is_active or transfer_to.pk == actor.pk:
        raise WorkflowError(_("请选择一位在职的同事作为接收人。"))
    if transfer_to.department_id != app.department_id:
        raise WorkflowError(_("只能流转给本部门的同事。"))
    app.handler, app.handler_can_edit = transfer_to, can_edit
    app.save()
    _event(app, actor, EventAction.TRANSFER, target=transfer_to)


def _take_back(app: Application, actor: Any, **kw: Any) -> None:
    previous = app.handler
    app.handler, app.handler_can_edit = None, False
    app.save()
    _event(app, actor, EventAction.TAKE_BACK, target=previous)


@dataclass(frozen=True)
class Rule:
    states: tuple[str, ...]
    guard: Callable[[Application, Any], None]
    apply: Callable[..., None]


RULES: dict[str, Rule] = {
    "submit": Rule((Status.DRAFT,), _applicant_only, _submit),
    "approve": Rule((Status.IN_PROGRESS,), _guard_task, _approve),
    "reject": Rule((Status.IN_PROGRESS,), _guard_task, _reject),
    "return": Rule((Status.IN_PROGRESS,), _guard_task, _return),
    "withdraw": Rule((Status.IN_PROGRESS,), _guard_withdraw, _withdraw),
    "transfer": Rule((Status.DRAFT,), _guard_transfer, _transfer),
    "take_back": Rule((Status.DRAFT,), _guard_take_back, _take_back),
}


def _check_state(app: Application, action: str, label: str = "") -> Rule:
    rule = RULES.get(action)
    if rule is None:
        raise WorkflowError(_("未知的操作。"))
    if app.status not in rule.states:
        raise WorkflowError(
            _("该申请单现在是「%(status)s」,不能【%(action)s】。页面可能已过期,请刷新后再看。")
            % {"status": app.get_status_display(), "action": label or ACTION_LABELS[action]}
        )
    return rule


@transaction.atomic
def transition(application: Application | int, action: str, *, actor: Any, label: str = "", **kw: Any) -> Application:
    """Do ``action`` on the application as ``actor``. The row is locked, so of two people acting at once the
    second sees the state the first left and is refused with a reason; an effect never runs twice. ``label`` is
    the name of the button pressed when a step names its approval (【提交】, 【分配】), for that refusal."""
    pk = application if isinstance(application, int) else application.pk
    app = Application.objects.select_for_update().get(pk=pk)
    rule = _check_state(app, action, label)
    rule.guard(app, actor)
    rule.apply(app, actor, **kw)
    return app


def allowed_actions(app: Application, user: Any) -> list[str]:
    """The actions ``user`` may take on ``app`` now: the buttons to show (the server checks again)."""
    out = []
    for action, rule in RULES.items():
        if app.status not in rule.states:
            continue
        try:
            rule.guard(app, user)
        except WorkflowError:
            continue
        out.append(action)
    return out


def can_edit(app: Application, user: Any) -> bool:
    """Whether ``user`` may change the form now: a draft, by its applicant or by the colleague it was handed
    to for editing."""
    if app.status != Status.DRAFT:
        return False
    return user.pk == app.applicant_id or (user.pk == app.handler_id and app.handler_can_edit)


def mark_opened(app: Application, user: Any) -> bool:
    """An approver opened the application: from now on the applicant can no longer 【撤销】 it."""
    if app.status != Status.IN_PROGRESS:
        return False
    n = (
        _current_tasks(app)
        .filter(approver=user, status=TaskStatus.PENDING, opened_at__isnull=True)
        .update(opened_at=timezone.now())
    )
    if n:
        _event(app, user, EventAction.OPEN)
    return bool(n)


@transaction.atomic
def delete(application: Application | int, *, actor: Any, request: Any = None) -> None:
    """【删除】: a draft never submitted, by its applicant; or any application, by an administrator."""
    pk = application if isinstance(application, int) else application.pk
    app = Application.objects.select_for_update().get(pk=pk)
    if not actor.has_perm("workflow.delete_any_application"):
        _applicant_only(app, actor)
        if app.status != Status.DRAFT or app.round:
            raise WorkflowError(_("已提交过的申请单不能删除,只有从未提交的草稿可以删除。"))
    audit(
        actor=actor,
        action=AuditAction.DELETE,
        obj=app,
        request=request,
        changes={"form_type": app.form_type, "status": app.status, "round": app.round},
    )
    app.delete()


@dataclass(frozen=True)
class HandedOver:
    """What ``hand_over_tasks`` did: the applications now waiting for the colleague instead, and those left as they
    were because the colleague cannot take them (he applied for it himself, or has already acted at that step)."""

    moved: list[Application]
    left: list[Application]


@transaction.atomic
def hand_over_tasks(*, actor: Any, from_user: Any, to_user: Any, request: Any = None) -> HandedOver:
    """【转交待办】: the approvals waiting for ``from_user`` (who has left, or is away for long) go to ``to_user``,
    each with a 转交 line in its 流程信息. Where ``to_user`` already waits at the same step (会签), ``from_user``'s
    part is dropped. Where ``to_user`` is the applicant, or has already acted at that step, the task stays: nobody
    approves his own application, and one person's approval does not stand for two."""
    if to_user is None or not to_user.is_active or to_user.pk == from_user.pk:
        raise WorkflowError(_("请选择一位在用的同事接替审批。"))
    tasks = Task.objects.select_for_update(of=("self",)).select_related("application")
    moved: list[Application] = []
    left: list[Application] = []
    waiting = list(tasks.filter(approver=from_user, status=TaskStatus.PENDING).order_by("created_at", "id"))
    # the colleague's own part at the same steps, read once (a pending task is always at its application's step)
    theirs_at = {
        (t.application_id, t.round, t.step): t.status
        for t in Task.objects.filter(approver=to_user, application__in=[t.application_id for t in waiting])
    }
    for task in waiting:
        app = task.application
        theirs = theirs_at.get((task.application_id, task.round, task.step))
        if app.applicant_id == to_user.pk or (theirs is not None and theirs != TaskStatus.PENDING):
            left.append(app)
            continue
        if theirs is None:
            task.approver, task.opened_at = to_user, None
            task.save(update_fields=["approver", "opened_at"])
        else:
            task.status, task.acted_at = TaskStatus.CANCELLED, timezone.now()
            task.save(update_fields=["status", "acted_at"])
        _event(
            app,
            actor,
            EventAction.HANDOVER,
            opinion=_("「%(from)s」的待办转交给「%(to)s」") % {"from": from_user, "to": to_user},
            target=to_user,
        )
        moved.append(app)
    if moved:
        audit(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=from_user,
            request=request,
            object_repr=str(from_user),
            changes={"handover_to": str(to_user), "applications": len(moved)},
        )
    return HandedOver(moved=moved, left=left)
