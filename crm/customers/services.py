"""Writes of the customer module. Each service checks who may do it, runs in one transaction, writes its
history (Handover) and audit rows, and says in a sentence why it refuses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.forms import ModelForm
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.accounts.models import User
from crm.accounts.selectors import subordinate_ids
from crm.core.audit import audited, form_fields
from crm.core.models import DictItem
from crm.core.scope import ensure_in_scope
from crm.workflow.errors import WorkflowError

from .models import (
    Counter,
    Customer,
    CustomerStatus,
    FollowUp,
    Handover,
    HandoverAction,
    Lead,
    LeadStatus,
)
from .selectors import leader_of, open_registration


class CustomerError(WorkflowError):
    """A refused customer action; the message says why (a WorkflowError, so that a refusal inside an approval's
    effect reaches the approver as the engine's own refusals do)."""


Party = Lead | Customer


def _subject(obj: Party) -> dict[str, Party]:
    return {"lead": obj} if isinstance(obj, Lead) else {"customer": obj}


def _lock(obj: Party) -> Party:
    return type(obj)._default_manager.select_for_update().get(pk=obj.pk)


def _history(obj: Party, action: str, actor: Any, *, to: Any = None, frm: Any = None, reason: str = "") -> None:
    Handover.objects.create(**_subject(obj), action=action, actor=actor, from_user=frm, to_user=to, reason=reason[:200])


def _require_owner(obj: Party, actor: Any, what: str) -> None:
    if obj.owner_id != actor.pk:
        raise CustomerError(
            _("只有负责人本人可以%(what)s「%(name)s」;如需由他人跟进,请负责人【移交】给上级重新分配。")
            % {"what": what, "name": obj.name}
        )


# ---------------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------------


@transaction.atomic
def lead_register_own(*, actor: Any, form: ModelForm) -> Lead:
    """A lead the rep found personally: registered by the rep and the rep's at once, with no approval."""
    lead: Lead = form.save(commit=False)
    lead.registered_by = actor
    lead.owner = actor
    lead.department = actor.department
    lead.status = LeadStatus.FOLLOWING
    lead.owned_since = timezone.now()
    with audited(actor=actor, obj=lead, fields=form_fields(form)):
        lead.save()
        form.save_m2m()
    _history(lead, HandoverAction.REGISTER, actor, to=actor)
    return lead


def lead_assigned(lead: Lead, application: Any, actor: Any) -> None:
    """The effect of an approved lead application: the rep named at the last 【分配】 owns it from now."""
    rep = application.assignee
    if rep is None:  # a chain without an assigning step: the last approver takes it himself
        rep = actor
    lead = _lock(lead)  # type: ignore[assignment]
    with audited(actor=actor, obj=lead, fields=("owner", "department", "status")):
        lead.owner, lead.department, lead.status = rep, rep.department, LeadStatus.FOLLOWING
        lead.owned_since = timezone.now()
        lead.save(update_fields=["owner", "department", "status", "owned_since", "updated_at"])
    _history(lead, HandoverAction.ASSIGN, actor, to=rep)


@transaction.atomic
def party_update(*, actor: Any, obj: Party, form: ModelForm, request: Any = None) -> Party:
    """Change the data of a lead or customer: the owner only; every change is audited field by field."""
    _require_owner(_lock(obj), actor, _("修改"))
    with audited(actor=actor, obj=obj, fields=form_fields(form), request=request):
        obj = form.save()
    ensure_in_scope(actor, obj)
    return obj


@transaction.atomic
def lead_close(*, actor: Any, lead: Lead, reason: DictItem, note: str = "") -> Lead:
    """【关闭客户】: the owner stops following the lead, with a reason from the dictionary."""
    lead = _lock(lead)  # type: ignore[assignment]
    _require_owner(lead, actor, _("关闭"))
    if lead.status != LeadStatus.FOLLOWING:
        raise CustomerError(_("「%(name)s」现在是「%(status)s」,不能关闭。") % _status(lead))
    _no_open_registration(lead, _("关闭"))
    if reason is None or reason.dict_type.code != "close_reason":
        raise CustomerError(_("请选择关闭原因。"))
    with audited(actor=actor, obj=lead, fields=("status", "close_reason", "close_note")):
        lead.status, lead.close_reason, lead.close_note = LeadStatus.CLOSED, reason, note[:200]
        lead.save(update_fields=["status", "close_reason", "close_note", "updated_at"])
    _history(lead, HandoverAction.CLOSE, actor, frm=actor, reason=f"{reason.label} {note}".strip())
    return lead


def _no_open_registration(lead: Lead, what: str) -> None:
    registration = open_registration(lead)
    if registration is not None and registration.application is not None:
        raise CustomerError(
            _("「%(name)s」已有一张客户登记「%(status)s」,不能%(what)s;请先在〖客户登记〗中处理那张登记。")
            % {"name": lead.name, "status": registration.application.get_status_display(), "what": what}
        )


def _status(obj: Party) -> dict[str, str]:
    return {"name": obj.name, "status": str(obj.get_status_display())}


# ---------------------------------------------------------------------------------------------------
# Ownership: 【移交】 to the leader, who 【分配】s it again
# ---------------------------------------------------------------------------------------------------


@transaction.atomic
def hand_over(*, actor: Any, obj: Party, reason: str = "", request: Any = None) -> Party:
    """【移交】: the owner hands the record to his leader, who reassigns it."""
    obj = _lock(obj)
    _require_owner(obj, actor, _("移交"))
    if obj.status not in (LeadStatus.FOLLOWING, CustomerStatus.FORMAL):
        raise CustomerError(_("「%(name)s」现在是「%(status)s」,不能移交。") % _status(obj))
    if isinstance(obj, Lead):
        _no_open_registration(obj, _("移交"))
    leader = leader_of(actor)
    if leader is None:
        raise CustomerError(_("找不到您的上级(部门负责人),无法移交;请联系管理员设置部门负责人。"))
    with audited(actor=actor, obj=obj, fields=("owner", "status"), request=request):
        obj.owner, obj.department = leader, leader.department
        obj.status = LeadStatus.HANDED_OVER if isinstance(obj, Lead) else CustomerStatus.HANDED_OVER
        obj.save(update_fields=["owner", "department", "status", "updated_at"])
    _history(obj, HandoverAction.TRANSFER, actor, frm=actor, to=leader, reason=reason)
    return obj


def may_assign(actor: Any, obj: Party) -> bool:
    """A leader may (re)assign what was handed to him, or what one of his people owns."""
    if not actor.is_authenticated or obj.status in (LeadStatus.CONVERTED, LeadStatus.CLOSED, CustomerStatus.MERGED):
        return False
    if obj.status == CustomerStatus.REGISTERING:
        return False
    if obj.owner_id == actor.pk:
        return obj.status in (LeadStatus.HANDED_OVER, CustomerStatus.HANDED_OVER)
    return obj.owner_id in subordinate_ids(actor)


@transaction.atomic
def reassign(*, actor: Any, obj: Party, to: User, reason: str = "", request: Any = None) -> Party:
    """【分配】 by a leader: a record handed over to him, or one of his people's, goes to one of his people."""
    obj = _lock(obj)
    if not may_assign(actor, obj):
        raise CustomerError(_("您不能分配「%(name)s」:只有负责人的上级可以重新分配。") % {"name": obj.name})
    if to is None or not to.is_active or to.pk not in subordinate_ids(actor) or to.pk == actor.pk:
        raise CustomerError(_("只能分配给您所领导的在职同事。"))
    if to.pk == obj.owner_id:
        raise CustomerError(_("「%(name)s」已经由%(who)s负责。") % {"name": obj.name, "who": to.full_name})
    previous = obj.owner
    with audited(actor=actor, obj=obj, fields=("owner", "status"), request=request):
        obj.owner, obj.department, obj.owned_since = to, to.department, timezone.now()
        obj.status = LeadStatus.FOLLOWING if isinstance(obj, Lead) else CustomerStatus.FORMAL
        obj.save(update_fields=["owner", "department", "owned_since", "status", "updated_at"])
    _history(obj, HandoverAction.REASSIGN, actor, frm=previous, to=to, reason=reason)
    return obj


# ---------------------------------------------------------------------------------------------------
# Follow-ups
# ---------------------------------------------------------------------------------------------------


@transaction.atomic
def followup_add(*, actor: Any, obj: Party, form: ModelForm) -> FollowUp:
    """Add a 跟踪记录: the owner only, on a record being followed; updates the last and next follow-up."""
    obj = _lock(obj)
    _require_owner(obj, actor, _("填写跟踪记录"))
    if obj.status not in (LeadStatus.FOLLOWING, CustomerStatus.FORMAL, CustomerStatus.REGISTERING):
        raise CustomerError(_("「%(name)s」现在是「%(status)s」,不能再填写跟踪记录。") % _status(obj))
    followup: FollowUp = form.save(commit=False)
    if followup.at > timezone.now() + settings.CRM_FOLLOWUP_CLOCK_SKEW:
        raise CustomerError(_("跟踪时间不能晚于现在。"))
    for key, value in _subject(obj).items():
        setattr(followup, key, value)
    followup.author = actor
    followup.save()
    _apply_followup(obj, followup)
    return followup


def _apply_followup(obj: Party, followup: FollowUp) -> None:
    updates: dict[str, Any] = {"updated_at": timezone.now()}
    if obj.last_followup_at is None or followup.at >= obj.last_followup_at:
        updates["last_followup_at"] = followup.at
        planned = obj.next_followup_on
        # No next date given: a follow-up still planned for after this one stands (a short call in between does
        # not cancel it); one due by now was this follow-up.
        keep = followup.next_on is None and planned is not None and planned > timezone.localdate(followup.at)
        updates["next_followup_on"] = planned if keep else followup.next_on
        if isinstance(obj, Lead) and followup.intent_id:
            updates["intent"] = followup.intent_id
    type(obj)._default_manager.filter(pk=obj.pk).update(**updates)


# ---------------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------------


def next_card_no(today: date | None = None) -> str:
    """The next member card number, from the pattern in CRM_CARD_NUMBER_PATTERN (``{year}``, ``{seq}``).
    Called inside the approving transaction: the counter row stays locked until it commits."""
    counter, _created = Counter.objects.select_for_update().get_or_create(name="card_no")
    Counter.objects.filter(pk=counter.pk).update(value=F("value") + 1)
    counter.refresh_from_db()
    year = (today or timezone.localdate()).year
    return str(settings.CRM_CARD_NUMBER_PATTERN).format(year=year, seq=counter.value)


def customer_approved(customer: Customer, application: Any, actor: Any) -> None:
    """The effect of an approved 客户登记: a formal customer owned by the specialist who registered it, with a
    member card number; the lead it came from (【转客户】) becomes 已转客户 and links to it."""
    customer = _lock(customer)  # type: ignore[assignment]
    now = timezone.now()
    customer.status, customer.approved_at = CustomerStatus.FORMAL, now
    customer.owner = customer.owner or application.applicant
    customer.department = customer.owner.department if customer.owner else None
    with audited(actor=actor, obj=customer, fields=("status", "card_no", "owner", "department")):
        customer.owned_since = now
        customer.card_no = customer.card_no or next_card_no()
        customer.save(update_fields=["status", "approved_at", "owner", "department", "owned_since", "card_no"])
    _history(customer, HandoverAction.APPROVE, actor, to=customer.owner)
    if customer.lead_id:
        lead = Lead.objects.select_for_update().get(pk=customer.lead_id)
        if lead.status == LeadStatus.CONVERTED and lead.customer_id != customer.pk:
            raise CustomerError(_("潜在客户「%(name)s」已经转为客户,不能重复转化。") % {"name": lead.name})
        with audited(actor=actor, obj=lead, fields=("status", "customer")):
            lead.status, lead.customer = LeadStatus.CONVERTED, customer
            lead.save(update_fields=["status", "customer", "updated_at"])
        _history(lead, HandoverAction.CONVERT, actor, frm=lead.owner, reason=customer.card_no or "")


@transaction.atomic
def profile_parts_save(*, actor: Any, customer: Customer, formset: Any, label: str, request: Any = None) -> Customer:
    """Save one inline part of a profile (房产, 车辆, 家庭成员, 纪念日): the owner only, audited as one change."""
    customer = _lock(customer)  # type: ignore[assignment]
    _require_owner(customer, actor, _("修改"))
    if customer.status == CustomerStatus.MERGED:
        raise CustomerError(_("「%(name)s」已合并到其他客户,不能修改。") % {"name": customer.name})
    before = [str(o) for o in formset.get_queryset()]
    with audited(actor=actor, obj=customer, fields=(), request=request) as extra:
        formset.instance = customer
        formset.save()
        after = [str(o) for o in formset.model._default_manager.filter(customer=customer)]
        if before != after:
            extra[label] = [before, after]
    return customer


# ---------------------------------------------------------------------------------------------------
# Merging duplicates (管理员)
# ---------------------------------------------------------------------------------------------------

MERGE_FILL = {
    "lead": ("gender", "mobile", "company", "title", "source", "note", "intent"),
    "customer": (
        "gender",
        "mobile",
        "company",
        "title",
        "source",
        "note",
        "birthday",
        "id_number",
        "level",
        "industry",
        "income_band",
        "address",
        "broker_name",
        "hobby_note",
        "preferences",
        "taboos",
    ),
}


MergeGuard = Callable[[Party, Party], str | None]
merge_guards: list[MergeGuard] = []
"""What other modules say about a merge: each guard gets (keep, drop), both locked, and returns a sentence refusing
the merge, or ``None``. This module cannot know what they hold of its records (consumption, points)."""


@transaction.atomic
def merge(*, actor: Any, keep: Party, drop: Party, request: Any = None) -> Party:
    """Combine two records of one person: ``keep`` takes what ``drop`` has that it lacks, and every follow-up,
    property, car, family member and anniversary of ``drop``; ``drop`` stays, marked 已合并, pointing at
    ``keep``. Both histories record it, and the change of ``keep`` is audited field by field."""
    kind = "lead" if isinstance(keep, Lead) else "customer"
    if type(keep) is not type(drop):
        raise CustomerError(_("只能合并同一类的两条记录。"))
    if not actor.has_perm(f"customers.merge_{kind}"):
        raise CustomerError(_("您没有合并重复记录的权限。"))
    if keep.pk == drop.pk:
        raise CustomerError(_("请选择两条不同的记录。"))
    first, second = sorted((keep, drop), key=lambda o: o.pk)  # lock in one order: two merges cannot deadlock
    locked = {o.pk: _lock(o) for o in (first, second)}
    keep, drop = locked[keep.pk], locked[drop.pk]
    merged = LeadStatus.MERGED if kind == "lead" else CustomerStatus.MERGED
    for obj in (keep, drop):
        if obj.status == merged:
            raise CustomerError(_("「%(name)s」已经合并过,不能再合并。") % {"name": obj.name})
    if kind == "lead" and LeadStatus.CONVERTED in (keep.status, drop.status) and keep.status != drop.status:
        raise CustomerError(_("已转客户的潜在客户只能与同样已转客户的记录合并;请合并对应的客户。"))
    for guard in merge_guards:
        refusal = guard(keep, drop)
        if refusal:
            raise CustomerError(refusal)
    fields = MERGE_FILL[kind]
    audited_fields = (*fields, "hobbies") if kind == "customer" else fields
    with audited(actor=actor, obj=keep, fields=audited_fields, request=request) as extra:
        for name in fields:
            f = keep._meta.get_field(name)
            attname = f.attname  # type: ignore[union-attr]
            if getattr(keep, attname) in (None, "") and getattr(drop, attname) not in (None, ""):
                setattr(keep, attname, getattr(drop, attname))
        keep.save()
        subject = {kind: keep}
        moved = {"followups": FollowUp.objects.filter(**{kind: drop}).update(**subject)}
        Handover.objects.filter(**{kind: drop}).update(**subject)
        if isinstance(keep, Customer) and isinstance(drop, Customer):
            for related in ("properties", "vehicles", "family", "anniversaries"):
                moved[related] = getattr(drop, related).update(customer=keep)
            keep.hobbies.add(*drop.hobbies.all())
            Lead.objects.filter(customer=drop).update(customer=keep)
        extra["merged"] = f"#{drop.pk} {drop.name}"
        extra["moved"] = moved
    _refresh_followup_dates(keep)
    with audited(actor=actor, obj=drop, fields=("status", "merged_into"), request=request):
        drop.status, drop.merged_into = merged, keep
        type(drop)._default_manager.filter(pk=drop.pk).update(
            status=merged, merged_into=keep, updated_at=timezone.now()
        )
    _history(
        keep, HandoverAction.MERGE, actor, reason=_("合并了「%(name)s」(#%(pk)d)") % {"name": drop.name, "pk": drop.pk}
    )
    _history(
        drop,
        HandoverAction.MERGE,
        actor,
        reason=_("已合并到「%(name)s」(#%(pk)d)") % {"name": keep.name, "pk": keep.pk},
    )
    return keep


def _refresh_followup_dates(obj: Party) -> None:
    latest = FollowUp.objects.filter(**_subject(obj)).order_by("-at", "-id").first()
    if latest is not None:
        type(obj)._default_manager.filter(pk=obj.pk).update(last_followup_at=latest.at, next_followup_on=latest.next_on)
