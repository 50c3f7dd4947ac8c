"""Reads of the customer module: the club's week, the weekly sub-lists, duplicates, who leads whom."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.accounts.models import Department, User
from crm.accounts.selectors import subordinate_ids
from crm.core.masking import can_see_sensitive, mask
from crm.workflow.models import Status as ApplicationStatus

from .models import Customer, CustomerStatus, Handover, HandoverAction, Lead, LeadStatus

WEEK_VIEWS = ("new", "due", "done")


def week_bounds(today: date | None = None) -> tuple[date, date]:
    """Monday and Sunday of the week holding ``today``, in the club's time zone (TIME_ZONE)."""
    today = today or timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def week_filter(qs: QuerySet, view: str, today: date | None = None) -> QuerySet:
    """本周新增 (became the owner's this week), 本周待跟踪 (next follow-up due by Sunday, overdue included),
    本周已跟 (followed up this week)."""
    monday, sunday = week_bounds(today)
    start, end = _day_start(monday), _day_start(sunday + timedelta(days=1))
    if view == "new":
        return qs.filter(owned_since__gte=start, owned_since__lt=end)
    if view == "due":
        return qs.filter(next_followup_on__lte=sunday)
    if view == "done":
        return qs.filter(last_followup_at__gte=start, last_followup_at__lt=end)
    return qs


def active_leads(qs: QuerySet[Lead]) -> QuerySet[Lead]:
    return qs.filter(status__in=(LeadStatus.FOLLOWING, LeadStatus.HANDED_OVER))


def leader_of(user: User) -> User | None:
    """Whom ``user`` hands records to (【移交】): the manager of the user's department, or, for the manager
    himself, the manager of the nearest department above."""
    dept = user.department
    if dept is None:
        return None
    ids = [int(i) for i in dept.path.strip("/").split("/") if i]
    by_id = {d.pk: d for d in Department.objects.filter(pk__in=ids).select_related("manager")}
    for pk in reversed(ids):
        manager = by_id[pk].manager
        if manager is not None and manager.is_active and manager.pk != user.pk:
            return manager
    return None


def assignable_people(actor: Any) -> QuerySet[User]:
    """Whom a leader may (re)assign a lead or customer to: the active people he leads."""
    return (
        User.objects.filter(pk__in=subordinate_ids(actor), is_active=True)
        .exclude(pk=actor.pk)
        .order_by("department__path", "id")
    )


@dataclass(frozen=True)
class Duplicate:
    kind: str  # "lead" or "customer"
    name: str
    owner: str
    field: str  # "mobile" or "id_number"
    value: str
    state: str = ""  # a registration not yet through: 草稿, 审批中

    def describe(self, viewer: Any) -> str:
        values = {
            "field": _("手机号") if self.field == "mobile" else _("身份证号"),
            "value": self.value if can_see_sensitive(viewer) else mask(self.field, self.value),
            "kind": _("潜在客户") if self.kind == "lead" else _("客户"),
            "name": self.name,
            "owner": self.owner or _("未分配"),
            "state": self.state,
        }
        if self.state:
            return _("%(field)s %(value)s 已登记为%(kind)s「%(name)s」(%(state)s,负责人:%(owner)s)") % values
        return _("%(field)s %(value)s 已登记为%(kind)s「%(name)s」(负责人:%(owner)s)") % values


def _state(obj: Lead | Customer) -> str:
    """What a record not yet through its registration is: its application's state (草稿, 审批中), else ""."""
    if obj.status not in (LeadStatus.DRAFT, CustomerStatus.REGISTERING):
        return ""
    return str(obj.application.get_status_display()) if obj.application else str(obj.get_status_display())


def find_duplicates(
    *, mobile: str = "", id_number: str = "", exclude_lead: int | None = None, exclude_customer: int | None = None
) -> list[Duplicate]:
    """Leads and customers (anyone's: a duplicate is a duplicate whoever owns it) holding this mobile or ID."""
    out: list[Duplicate] = []
    rejected = Q(application__status=ApplicationStatus.REJECTED)  # a refused registration holds nothing
    if mobile:
        gone = (LeadStatus.CLOSED, LeadStatus.MERGED)
        leads = Lead.objects.filter(mobile=mobile).exclude(status__in=gone).exclude(rejected)
        if exclude_lead:
            leads = leads.exclude(pk=exclude_lead)
        out += [
            Duplicate("lead", x.name, _owner(x), "mobile", mobile, _state(x))
            for x in leads.select_related("owner", "application")[:5]
        ]
    q = Q()
    if mobile:
        q |= Q(mobile=mobile)
    if id_number:
        q |= Q(id_number=id_number)
    if q:
        customers = Customer.objects.filter(q).exclude(status=CustomerStatus.MERGED).exclude(rejected)
        if exclude_customer:
            customers = customers.exclude(pk=exclude_customer)
        for c in customers.select_related("owner", "application")[:5]:
            field = "mobile" if mobile and c.mobile == mobile else "id_number"
            value = mobile if field == "mobile" else id_number
            out.append(Duplicate("customer", c.name, _owner(c), field, value, _state(c)))
    return out


def _owner(obj: Any) -> str:
    return str(obj.owner) if obj.owner else ""  # the login name: two 张伟 are told apart


def duplicate_groups(model: type[Lead] | type[Customer], limit: int = 30) -> list[list[Any]]:
    """Records sharing a mobile number (and, for customers, an ID number): the candidates for 【合并】."""
    merged = LeadStatus.MERGED if model is Lead else CustomerStatus.MERGED
    live = model.objects.exclude(status=merged)
    groups: list[list[Any]] = []
    keys = ["mobile", "id_number"] if model is Customer else ["mobile"]
    for key in keys:
        values = (
            live.exclude(**{key: ""})
            .values(key)
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .order_by(key)
            .values_list(key, flat=True)[:limit]
        )
        for value in values:
            groups.append(list(live.filter(**{key: value}).select_related("owner").order_by("pk")))
    return groups[:limit]


def find_record(model: type[Lead] | type[Customer], text: str) -> Any:
    """A record by what a person has at hand: its number (#12), member card number, mobile or ID number."""
    text = (text or "").strip().lstrip("#").upper()
    if not text:
        return None
    q = Q(mobile=text)
    if text.isdigit() and len(text) < 10:
        q |= Q(pk=int(text))
    if model is Customer:
        q |= Q(card_no=text) | Q(id_number=text)
    found = list(model.objects.filter(q).select_related("owner")[:2])
    return found[0] if len(found) == 1 else None


# ---------------------------------------------------------------------------------------------------
# 【转客户】: one registration at a time from a lead
# ---------------------------------------------------------------------------------------------------

OPEN_APPLICATION = (ApplicationStatus.DRAFT, ApplicationStatus.IN_PROGRESS)


def open_registrations() -> QuerySet[Customer]:
    """Customer registrations made from a lead by 【转客户】 that are still a draft or in review."""
    return Customer.objects.filter(
        status=CustomerStatus.REGISTERING, lead__isnull=False, application__status__in=OPEN_APPLICATION
    )


def open_registration(lead: Lead) -> Customer | None:
    """The registration in progress from ``lead``, if any: while it is open the lead is neither converted again,
    nor closed, nor handed over (its approval would convert a lead that is no longer the applicant's)."""
    return open_registrations().filter(lead=lead).select_related("application").first()


def leads_to_convert(user: Any, *, registration: Customer | None = None) -> QuerySet[Lead]:
    """The leads ``user`` may 【转客户】: their own, being followed, with no other registration in progress
    (``registration`` is the one being edited, which keeps its own lead)."""
    others = open_registrations()
    if registration is not None and registration.pk is not None:
        others = others.exclude(pk=registration.pk)
    return Lead.objects.filter(owner=user, status=LeadStatus.FOLLOWING).exclude(pk__in=others.values("lead"))


OWNER_CHANGES = (HandoverAction.TRANSFER, HandoverAction.REASSIGN)


def imported_to(obj: Lead | Customer, handovers: Iterable[Handover]) -> User | None:
    """Whom an import gave the record to (its 「给」 in 流程信息): the import writes no handover of its own, so it is
    the owner before the first 【移交】 or 【分配】 since (``handovers``: the record's, in time order), or else
    the owner now."""
    for h in handovers:
        if h.action in OWNER_CHANGES and h.at >= obj.created_at:
            return h.from_user
    return obj.owner


def card_q(value: str) -> Q:
    """Customers by card number, or the start of one; the card of a record merged away finds the record kept."""
    card = value.strip().upper()
    found = Q(card_no=card) | Q(card_no__startswith=card)
    merged = Customer.objects.filter(status=CustomerStatus.MERGED, card_no=card)  # by the card's index, first:
    kept = [pk for pk in merged.values_list("merged_into", flat=True) if pk]  # an OR with a subquery scans
    return found | Q(pk__in=kept) if kept else found
