"""Reads of the loyalty module: the rules, a member's balance, level and expiring points, the ledger, the rolling
net consumption of the level rules, the scoped lists, and the reconciliation of the caches."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import DecimalField, F, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.core.models import ApiClient, ImportStatus
from crm.customers.models import Customer, CustomerStatus

from .models import (
    Consumption,
    EntryKind,
    LoyaltySettings,
    MemberLevel,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsLotUse,
)

MEMBER_STATUSES = (CustomerStatus.FORMAL, CustomerStatus.HANDED_OVER)
NET = DecimalField(max_digits=14, decimal_places=2)  # a sum of amounts


def loyalty_settings() -> LoyaltySettings:
    """积分规则 (the one row; created with its defaults if a database lacks it)."""
    obj = LoyaltySettings.objects.filter(pk=1).first()
    if obj is None:
        obj, _created = LoyaltySettings.objects.get_or_create(pk=1)
    return obj


DEFAULT_LEVELS = [  # name, rank, threshold (元 over the window), multiplier; also created by migration 0002
    ("普卡", 0, Decimal("0.00"), Decimal("1.00")),
    ("银卡", 1, Decimal("50000.00"), Decimal("1.20")),
    ("金卡", 2, Decimal("200000.00"), Decimal("1.50")),
    ("钻石卡", 3, Decimal("1000000.00"), Decimal("2.00")),
]


def levels() -> list[MemberLevel]:
    """The member levels, lowest first. A database emptied without its migrations' data (a test database
    flushed between tests) gets the default levels again: a ladder is never empty."""
    ladder = list(MemberLevel.objects.order_by("rank"))
    if not ladder:
        for name, rank, threshold, multiplier in DEFAULT_LEVELS:
            MemberLevel.objects.get_or_create(
                rank=rank, defaults={"name": name, "threshold": threshold, "multiplier": multiplier}
            )
        ladder = list(MemberLevel.objects.order_by("rank"))
    return ladder


def lowest_level() -> MemberLevel:
    return MemberLevel.objects.order_by("rank").first() or levels()[0]


def qualifying_level(net: Decimal, ladder: list[MemberLevel]) -> MemberLevel:
    """The highest level whose threshold ``net`` reaches (the lowest level when it reaches none)."""
    reached = ladder[0]
    for level in ladder:
        if net >= level.threshold:
            reached = level
    return reached


# ---------------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, the day clamped to the month's length (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def window_start(as_of: datetime, months: int) -> datetime:
    """The start (exclusive) of the rolling window of ``months`` ending at ``as_of``, in the club's time zone."""
    local = timezone.localtime(as_of)
    moved = add_months(local.date(), -months)
    return timezone.make_aware(datetime.combine(moved, local.time().replace(tzinfo=None)))


def day_end(day: date) -> datetime:
    """Midnight after ``day``, in the club's time zone: a window "as of ``day``" includes all of it."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def expiry_date(earned_on: date, months: int) -> date | None:
    """The first day on which points earned on ``earned_on`` are no longer valid; ``None`` when they never expire."""
    if months <= 0:
        return None
    return add_months(earned_on, months)


# ---------------------------------------------------------------------------------------------------
# One member
# ---------------------------------------------------------------------------------------------------


def is_member(customer: Customer) -> bool:
    """A formal customer (正式客户, or one waiting to be reassigned) is a member; a registration still under
    review, or a record merged into another, is not."""
    return customer.status in MEMBER_STATUSES


def account_of(customer: Customer) -> PointsAccount | None:
    return PointsAccount.objects.select_related("level").filter(customer=customer).first()


def balance(customer: Customer) -> int:
    account = PointsAccount.objects.filter(customer=customer).values_list("balance", flat=True).first()
    return int(account or 0)


def level_of(customer: Customer) -> MemberLevel:
    account = account_of(customer)
    return account.level if account is not None else lowest_level()


def rolling_net(customer: Customer | int, *, as_of: datetime | None = None, months: int | None = None) -> Decimal:
    """Net consumption (sales minus refunds) in the rolling window ending ``as_of`` (now by default): what the
    level thresholds are compared with."""
    months = loyalty_settings().window_months if months is None else months
    total = _window(customer, as_of, months).aggregate(s=Sum("amount"))["s"]
    return total if total is not None else Decimal("0.00")


@dataclass(frozen=True)
class Progress:
    """Where a member stands on the ladder: the net consumption of the rolling window (``months``), the next level
    up (``None`` at the top) and what is still short of its threshold (0 when reached: the next sale upgrades)."""

    net: Decimal
    months: int
    next_level: MemberLevel | None
    short: Decimal


def level_progress(customer: Customer, level: MemberLevel) -> Progress:
    """The member's progress from ``level`` (their level now) towards the next one up."""
    months = loyalty_settings().window_months
    above = (
        MemberLevel.objects.filter(rank__gt=level.rank)
        .annotate(net=_net(customer, None, months))
        .order_by("rank")
        .first()
    )
    if above is None:
        return Progress(net=rolling_net(customer, months=months), months=months, next_level=None, short=Decimal(0))
    return Progress(net=above.net, months=months, next_level=above, short=max(above.threshold - above.net, Decimal(0)))


def upgrade_for(
    customer: Customer | int, *, above: MemberLevel, months: int, as_of: datetime | None = None
) -> tuple[MemberLevel, Decimal] | None:
    """The highest level above ``above`` that the rolling net consumption reaches, with that net; ``None`` when
    it reaches none. One query (the sum is a subquery of the levels'), as ``qualifying_level`` over
    ``rolling_net`` would answer."""
    level = (
        MemberLevel.objects.annotate(net=_net(customer, as_of, months))
        .filter(rank__gt=above.rank, threshold__lte=F("net"))
        .order_by("-rank")
        .first()
    )
    return None if level is None else (level, level.net)


def _net(customer: Customer | int, as_of: datetime | None, months: int) -> Coalesce:
    """``rolling_net`` as an expression, to read with the levels in one query."""
    total = _window(customer, as_of, months).values("customer_id").annotate(s=Sum("amount")).values("s")[:1]
    return Coalesce(Subquery(total, output_field=NET), Decimal("0.00"), output_field=NET)


def _window(customer: Customer | int, as_of: datetime | None, months: int) -> Any:
    qs = Consumption.objects.filter(customer=customer, occurred_at__gt=window_start(as_of or timezone.now(), months))
    return qs if as_of is None else qs.filter(occurred_at__lte=as_of)


@dataclass(frozen=True)
class Expiring:
    """Points that will expire within a number of days: the total, and the amount due on each date."""

    days: int
    total: int
    by_date: list[tuple[date, int]] = field(default_factory=list)


def expiring(customer: Customer, *, days: int = 30, today: date | None = None) -> Expiring:
    """积分即将过期: what expires after ``today`` and no later than ``days`` from it (30 or 90 on the 积分 tab).
    Points already past their date but not yet swept by the expiry run count as due today."""
    today = today or timezone.localdate()
    rows = (
        PointsLot.objects.filter(
            account__customer=customer, remaining__gt=0, expires_on__lte=today + timedelta(days=days)
        )
        .values("expires_on")
        .annotate(points=Sum("remaining"))
        .order_by("expires_on")
    )
    by_date: dict[date, int] = {}
    for row in rows:
        on: date = row["expires_on"]  # type: ignore[assignment]  # the filter excludes never-expiring lots
        day = max(on, today)
        by_date[day] = by_date.get(day, 0) + int(row["points"])
    return Expiring(days=days, total=sum(by_date.values()), by_date=sorted(by_date.items()))


def ledger(account: PointsAccount) -> QuerySet[PointsEntry]:
    """积分流水 of one member, newest first (the order of the (account, -created_at, -id) index: keyset pages)."""
    return (
        PointsEntry.objects.filter(account=account)
        .select_related("consumption", "created_by")
        .order_by("-created_at", "-id")
    )


def customer_consumptions(customer: Customer) -> QuerySet[Consumption]:
    """消费记录 of one customer, newest first (the (customer, -occurred_at, -id) index)."""
    return Consumption.objects.filter(customer=customer).select_related("operator").order_by("-occurred_at", "-id")


def level_history(account: PointsAccount) -> QuerySet[Any]:
    return account.level_changes.select_related("from_level", "to_level", "actor").order_by("-at", "-id")


# ---------------------------------------------------------------------------------------------------
# Lists, through the data scope (会员管理 › 消费记录 / 积分流水)
# ---------------------------------------------------------------------------------------------------


def consumptions_for(user: Any, action: str = "view") -> QuerySet[Consumption]:
    """The consumption records ``user`` may reach: those of the customers in the user's data scope."""
    return Consumption.objects.for_user(user, action).select_related("customer").order_by("-occurred_at", "-id")


def entries_for(user: Any, action: str = "view") -> QuerySet[PointsEntry]:
    """The ledger entries ``user`` may reach: those of the customers in the user's data scope."""
    return (
        PointsEntry.objects.for_user(user, action)
        .select_related("account__customer", "created_by")
        .order_by("-created_at", "-id")
    )


# ---------------------------------------------------------------------------------------------------
# Refunds
# ---------------------------------------------------------------------------------------------------


CENT = Decimal("0.01")


def refunded_amount(original: Consumption) -> Decimal:
    """How much of a sale has been refunded so far (a positive amount, in cents: SQLite sums decimals in floating
    point and hands back ``1000.000000000000`` or ``0E-11``)."""
    total = Consumption.objects.filter(refund_of=original).aggregate(s=Sum("amount"))["s"]
    return (-total).quantize(CENT) if total is not None else Decimal("0.00")


def refundable_amount(original: Consumption) -> Decimal:
    return (original.amount - refunded_amount(original)).quantize(CENT)


# Order numbers
# ---------------------------------------------------------------------------------------------------


def recorded_orders(orders: list[str], client_key: str = "") -> dict[str, int | None]:
    """The order numbers among ``orders`` already recorded on a sale under ``client_key``. Each maps to the
    ``order_seq`` under which it may be recorded again when every sale recorded under it was offset by undoing
    its import (one past the last), or to None: taken, the same order counts once."""
    out: dict[str, int | None] = {}
    for start in range(0, len(orders), 1000):
        found = Consumption.objects.filter(
            client_key=client_key, order_no__in=orders[start : start + 1000], refund_of__isnull=True
        ).values_list("order_no", "order_seq", "import_batch__status")
        for order_no, seq, batch_status in found:
            if batch_status != ImportStatus.UNDONE:
                out[order_no] = None
            elif order_no not in out or out[order_no] is not None:
                out[order_no] = max(out.get(order_no) or 0, seq + 1)
    return out


def posted_by_pos(orders: list[str]) -> dict[str, tuple[str, int]]:
    """The order numbers among ``orders`` that a POS (an API client) has posted a sale under, each with the
    client's name and the sale: entered again by hand or imported, the same order would count twice. (Each POS
    numbers its own orders, so a POS is not refused an order number another POS or the club has used.)"""
    clients = dict(ApiClient.objects.values_list("pk", "name"))
    keys = [f"api:{pk}" for pk in clients]
    out: dict[str, tuple[str, int]] = {}
    for start in range(0, len(orders) if keys else 0, 1000):
        found = Consumption.objects.filter(
            client_key__in=keys, order_no__in=orders[start : start + 1000], refund_of__isnull=True
        ).values_list("order_no", "client_key", "pk")
        for order_no, key, pk in found:
            out.setdefault(order_no, (clients[int(key.removeprefix("api:"))], pk))
    return out


def earn_entry(consumption: Consumption) -> PointsEntry | None:
    return PointsEntry.objects.filter(consumption=consumption, kind=EntryKind.EARN).first()


def reversed_points(earn: PointsEntry) -> int:
    """How many of an earn entry's points refunds have taken back so far (a positive number)."""
    total = PointsEntry.objects.filter(reverses=earn).aggregate(s=Sum("points"))["s"]
    return -int(total) if total is not None else 0


# ---------------------------------------------------------------------------------------------------
# Reconciliation (manage.py points_reconcile)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    customer: str
    balance: int
    entries: int
    lots: int
    bad_lots: int  # lots whose remainder is not their points minus their uses

    @property
    def ok(self) -> bool:
        return self.balance == self.entries == self.lots and not self.bad_lots


def _sums(qs: QuerySet[Any], key: str, value: str) -> dict[int, int]:
    return {row[key]: int(row["s"] or 0) for row in qs.values(key).annotate(s=Sum(value)).order_by()}


def _lot_problems(account_ids: list[int] | None = None) -> dict[int, int]:
    """Per account, the number of lots whose ``remaining`` differs from ``points`` minus what was taken."""
    uses_qs = PointsLotUse.objects.all()
    lots_qs = PointsLot.objects.all()
    if account_ids is not None:
        uses_qs = uses_qs.filter(lot__account_id__in=account_ids)
        lots_qs = lots_qs.filter(account_id__in=account_ids)
    used = _sums(uses_qs, "lot_id", "points")
    bad: dict[int, int] = {}
    rows = lots_qs.values_list("id", "account_id", "points", "remaining").iterator(chunk_size=10_000)
    for lot_id, account_id, points, remaining in rows:
        if points - used.get(lot_id, 0) != remaining:
            bad[account_id] = bad.get(account_id, 0) + 1
    return bad


def _check(account_ids: list[int] | None = None) -> list[Mismatch]:
    accounts = PointsAccount.objects.all()
    entries = PointsEntry.objects.all()
    lots = PointsLot.objects.all()
    if account_ids is not None:
        accounts = accounts.filter(pk__in=account_ids)
        entries = entries.filter(account_id__in=account_ids)
        lots = lots.filter(account_id__in=account_ids)
    by_entries = _sums(entries, "account_id", "points")
    by_lots = _sums(lots, "account_id", "remaining")
    bad_lots = _lot_problems(account_ids)
    out = []
    rows = accounts.values_list("id", "balance", "customer__name", "customer__card_no").order_by("id")
    for account_id, cached, name, card_no in rows:
        m = Mismatch(
            account_id=account_id,
            customer=f"{name}({card_no})" if card_no else name,
            balance=cached,
            entries=by_entries.get(account_id, 0),
            lots=by_lots.get(account_id, 0),
            bad_lots=bad_lots.get(account_id, 0),
        )
        if not m.ok:
            out.append(m)
    # entries or lots of an account that does not exist cannot be: the foreign keys forbid it
    return out


def reconcile() -> tuple[int, list[Mismatch]]:
    """Every account's cached balance against the sum of its entries and the sum of its lots' remainders, and
    every lot's remainder against its uses. Returns (accounts checked, mismatches).

    The whole table is read without locks (writes go on meanwhile); an account that looks wrong is checked
    again under its row lock, so a write caught half-way between two reads is not reported."""
    checked = PointsAccount.objects.count()
    suspects = _check()
    confirmed: list[Mismatch] = []
    for suspect in suspects:
        with transaction.atomic():
            PointsAccount.objects.select_for_update().filter(pk=suspect.account_id).first()
            confirmed.extend(_check([suspect.account_id]))
    return checked, confirmed
