"""Writes around the engine: saving a draft (【保存】), editing chains (流程配置), and 【转交待办】 for accounts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db import transaction
from django.utils.translation import gettext as _

from crm.core.audit import audit, audited, form_fields
from crm.core.models import AuditAction

from . import engine
from .engine import can_edit
from .errors import WorkflowError
from .models import Application, Chain, Event, EventAction, Status, Task
from .registry import FormType


def approve_many(
    *, actor: Any, tasks: Iterable[Task], opinion: str = "", assign_to: Any = None
) -> tuple[int, list[tuple[str, str]]]:
    """【批量通过】 (or, with ``assign_to``, 【批量分配】) in 〖待办业务〗: each task's application approved at its step
    as if opened and approved on its own page, each in its own transaction, so that one refused (moved on since,
    an effect that cannot be done, a person not to be named at that step) leaves the others done. Without
    ``assign_to``, a step that asks whom to 【分配】 to is left. Returns how many were done and, for each refused,
    its title and the reason."""
    done, refused = 0, []
    for task in tasks:
        app = task.application
        label = engine.approval_label(app, task.step)
        if assign_to is None and app.steps[task.step]["assign_role"]:  # in the pending task's round's snapshot
            refused.append((app.title, _("这一步要选择分配给谁,请用【批量分配】或打开申请单办理。")))
            continue
        try:
            engine.transition(app.pk, "approve", actor=actor, label=label, opinion=opinion, assign_to=assign_to)
        except WorkflowError as exc:
            refused.append((app.title, " ".join(exc.messages)))
        else:
            done += 1
    return done, refused


@transaction.atomic
def draft_save(
    *, actor: Any, form_type: FormType, form: forms.ModelForm, application: Application | None = None
) -> Application:
    """【保存】: create the application as a draft, or change its form while it is a draft the actor may edit.
    After 【退回】 only the fields the form type leaves editable may change."""
    if application is None:
        application = Application.objects.create(
            form_type=form_type.key, title="", applicant=actor, department=actor.department
        )
        action = EventAction.CREATE
    else:
        application = Application.objects.select_for_update().get(pk=application.pk)
        if not can_edit(application, actor):
            raise WorkflowError(_("该申请单现在不能修改(只有草稿可以修改,且须是申请人或被流转修改的同事)。"))
        if application.returned and form_type.editable_after_return is not None:
            locked = set(form.changed_data) - set(form_type.editable_after_return)
            if locked:
                names = "、".join(str(form.fields[f].label) for f in sorted(locked))
                raise WorkflowError(_("退回后这些内容不能修改:%(fields)s。") % {"fields": names})
        action = EventAction.SAVE
    instance = form.save(commit=False)
    instance.application = application
    with audited(actor=actor, obj=instance, fields=form_fields(form)):
        instance.save()
        form.save_m2m()
    application.title = form_type.title(instance)[:200]
    application.save(update_fields=["title", "updated_at"])
    Event.objects.create(
        application=application, actor=actor, action=action, round=application.round, status_after=application.status
    )
    return application


@transaction.atomic
def chain_save(*, actor: Any, form_type: FormType, steps: Any, request: Any = None) -> Chain:
    """Save the steps of a form type's chain (a valid inline formset). Applications already submitted keep the
    steps they were submitted with."""
    chain, _created = Chain.objects.get_or_create(form_type=form_type.key)
    before = _describe(chain)
    steps.instance = chain
    steps.save()
    after = _describe(chain)
    if before != after:
        audit(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=chain,
            object_repr=str(form_type.label),
            changes={"steps": [before, after]},
            request=request,
        )
    return chain


def _describe(chain: Chain) -> list[str]:
    return [f"{s.order}.{s.name}:{s.get_approver_kind_display()}" for s in chain.steps.all()]


def in_flight(form_type: FormType) -> int:
    return Application.objects.filter(form_type=form_type.key, status=Status.IN_PROGRESS).count()


def hand_over_approvals(actor: Any, from_user: Any, to_user: Any, request: Any = None) -> tuple[int, str]:
    """【转交待办】 of the approval engine (registered with accounts): the sentence of what moved and what did not."""
    done = engine.hand_over_tasks(actor=actor, from_user=from_user, to_user=to_user, request=request)
    said = []
    if done.moved:
        said.append(_("%(n)d 张待审批的申请单已转交给「%(to)s」。") % {"n": len(done.moved), "to": to_user})
    if done.left:
        said.append(
            _("%(n)d 张未转交(「%(to)s」是其申请人,或已在该步骤审批过):%(titles)s,请另选一位同事接替。")
            % {"n": len(done.left), "to": to_user, "titles": "、".join(str(app) for app in done.left)}
        )
    return len(done.moved), "".join(said)
