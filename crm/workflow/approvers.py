"""Who approves a step, and whom an approver may 【分配】 to."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from crm.accounts.models import Department, Role, User
from crm.accounts.selectors import subordinate_ids

from .errors import WorkflowError
from .models import Application, ApproverKind, ConditionOp

LADDER_LEVELS = {ApproverKind.DEPT_MANAGER: 0, ApproverKind.DIRECTOR: 1}


def _ladder(application: Application) -> list[User]:
    """The managers of the applicant's department and of each department above it, nearest first, without
    repeats; the applicant among them when he manages his department or one above it."""
    ids = [int(i) for i in application.department.path.strip("/").split("/")] if application.department else []
    by_id = {d.pk: d for d in Department.objects.filter(pk__in=ids).select_related("manager")}
    out: list[User] = []
    for pk in reversed(ids):
        manager = by_id[pk].manager
        if manager and manager not in out:
            out.append(manager)
    return out


def _posts_above(application: Application) -> list[User]:
    """The managers of the applicant's line, nearest first, without the applicant (nobody approves his own
    application, so a manager's goes to the manager above him). One who is no longer active keeps his place: his
    post is vacant, and the posts above it stay where they are (the 总监 is still the one above)."""
    return [m for m in _ladder(application) if m.pk != application.applicant_id]


def managers_above(application: Application) -> list[User]:
    """The active managers of the applicant's line, nearest first, without the applicant."""
    return [m for m in _posts_above(application) if m.is_active]


def step_approvers(application: Application, step: dict[str, Any]) -> list[User]:
    kind = step["kind"]
    if kind in LADDER_LEVELS:
        index = LADDER_LEVELS[kind]
        return [m for m in _posts_above(application)[index : index + 1] if m.is_active]
    if kind == ApproverKind.ROLE:
        people = User.objects.filter(roles=step["role"], is_active=True)
        if step.get("others_only"):
            people = people.exclude(pk=application.applicant_id)
        return list(people.order_by("id"))
    pk = step["user"] if kind == ApproverKind.USER else application.assignee_id
    return list(User.objects.filter(pk=pk, is_active=True))


def top_step(application: Application) -> dict[str, Any] | None:
    """The step an application goes to when every step of its chain was skipped (nobody is above its applicant
    in his line, as for a director's own): the holders of ``CRM_TOP_APPROVER_ROLE`` (总经理) other than the
    applicant, so that nothing is approved without a second person. None when there is nobody (the applicant
    is the top of the club himself, or the setting is empty)."""
    name = settings.CRM_TOP_APPROVER_ROLE
    role = Role.objects.filter(name=name).first() if name else None
    if role is None:
        return None
    step = {
        "name": _("%(role)s审批") % {"role": role.name},
        "kind": ApproverKind.ROLE,
        "role": role.pk,
        "user": None,
        "assign_role": None,
        "all": False,
        "hours": None,
        "label": "",
        "others_only": True,
    }
    return step if step_approvers(application, step) else None


def above_the_top(application: Application, step: dict[str, Any]) -> bool:
    """Whether a department step that found nobody asks for a manager above the top of the applicant's own
    line: the applicant manages his department (or one above it) and the managers above him, all in post,
    have run out (his application went to each of them at an earlier step, or there are none). When a manager
    above him is no longer active, the post is vacant rather than missing: the step needs the administrator."""
    if step["kind"] not in LADDER_LEVELS:
        return False
    ladder = _ladder(application)
    pks = [m.pk for m in ladder]
    if application.applicant_id not in pks:
        return False
    return all(m.is_active for m in ladder[pks.index(application.applicant_id) :])


def assign_candidates(actor: User, step: dict[str, Any]) -> QuerySet[User]:
    """The people the approver of ``step`` may name: holders of the step's role, among the approver's own
    people when the approver leads any (a director picks one of his managers, a manager one of her reps)."""
    people = User.objects.filter(roles=step["assign_role"], is_active=True).exclude(pk=actor.pk)
    mine = subordinate_ids(actor)
    if people.filter(pk__in=mine).exists():
        people = people.filter(pk__in=mine)
    return people.order_by("department__path", "id")


def condition_holds(instance: Any, field: str, op: str, raw: str) -> bool:
    """Whether a step's condition holds for the submitted form (the value is read as the field's type)."""
    model_field = instance._meta.get_field(field)
    try:
        expected = model_field.to_python(raw)
    except ValidationError:
        raise WorkflowError(
            _("流程条件的值「%(value)s」不适用于字段「%(field)s」,请联系管理员检查流程配置。")
            % {"value": raw, "field": model_field.verbose_name}
        ) from None
    actual = getattr(instance, field)
    return {
        ConditionOp.GT: lambda: actual > expected,
        ConditionOp.GTE: lambda: actual >= expected,
        ConditionOp.LT: lambda: actual < expected,
        ConditionOp.LTE: lambda: actual <= expected,
        ConditionOp.EQ: lambda: actual == expected,
        ConditionOp.NE: lambda: actual != expected,
    }[ConditionOp(op)]()


def transfer_candidates(application: Application, actor: User) -> QuerySet[User]:
    """The colleagues ``actor`` may 【流转】 a draft to: the other active people of the application's department."""
    return (
        User.objects.filter(department_id=application.department_id, is_active=True).exclude(pk=actor.pk).order_by("id")
    )
