"""Writes of the loyalty module: consumption, refunds, points and levels.

Every service takes keyword-only arguments, runs in one transaction, locks the member's ``PointsAccount`` row
(``SELECT … FOR UPDATE``; SQLite serialises writers by itself) before it reads a balance, writes its ledger and
audit rows, and refuses bad input with a ``LoyaltyError`` (a stable code and one Chinese sentence) having
written nothing. The rules, in short (docs/development.md has them in full):

- **Earning**: a sale earns ``amount × multiplier`` of the member's level *before* the sale, rounded to whole
  points by the rounding rule (向下取整 by default). The points expire ``expiry_months`` after the sale's date.
- **Levels**: a sale that lifts the net consumption of the rolling window over a higher threshold upgrades the
  member at once; only the yearly review (``level_yearly_review``) moves a member down.
- **Debits** (redeem, negative adjust, expiry, reversal) take points from the lots soonest-expiring first (the
  oldest first, as long as the expiry period is unchanged). Before any debit, the member's points already past
  their expiry date are expired, so expired points are never spent even if the daily run has not passed yet.
- **Refunds** reverse the points their sale earned: a refund of the whole sale exactly what it earned, a
  partial one ``floor(earned × refunded so far / sale amount)`` minus what earlier refunds reversed (never
  more than earned in total). The reversal takes the sale's own lot first. **If the member has already spent
  the points, so that the balance cannot cover the reversal, the refund is refused** (``insufficient_points``)
  and nothing is recorded: the balance never goes negative and a refund never leaves points behind. The club
  settles the difference first (a 积分调整 application crediting the shortfall, approved like any other) and
  then records the refund.
- Refunds do not move a member down; the next yearly review does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any, NamedTuple

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.audit import audit, audited
from crm.core.models import AuditAction
from crm.customers import services as customer_services
from crm.customers.models import Customer

from . import selectors
from .errors import DUPLICATE_ORDER, INSUFFICIENT_POINTS, INVALID, UNKNOWN_MEMBER, LoyaltyError
from .models import (
    APPLY_ADJUSTMENT,
    Category,
    Consumption,
    ConsumptionSource,
    EntryKind,
    LevelChange,
    LevelChangeReason,
    LoyaltySettings,
    MemberLevel,
    PaymentMethod,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsLotUse,
    Rounding,
)

MAX_AMOUNT = Decimal("10000000.00")  # one consumption: at most 10,000,000 元
MAX_POINTS = 100_000_000  # one gift, redemption or adjustment
EARLIEST = datetime(2000, 1, 1)  # a consumption before this is a typing mistake
ROUNDING = {Rounding.DOWN: ROUND_FLOOR, Rounding.HALF_UP: ROUND_HALF_UP, Rounding.UP: ROUND_CEILING}


# ---------------------------------------------------------------------------------------------------
# Input checks: each refusal is one sentence, before anything is written
# ---------------------------------------------------------------------------------------------------


def _invalid(message: str, **detail: Any) -> LoyaltyError:
    return LoyaltyError(INVALID, message, **detail)


def _amount(value: Any) -> Decimal:
    """A positive amount of yuan with at most two decimals, at most ``MAX_AMOUNT``."""
    if isinstance(value, bool) or value is None:
        raise _invalid(_("请填写金额。"))
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise _invalid(_("金额「%(value)s」不是数字。") % {"value": str(value)[:30]}) from None
    if not amount.is_finite():
        raise _invalid(_("金额「%(value)s」不是数字。") % {"value": str(value)[:30]})
    if amount <= 0:
        raise _invalid(_("金额必须大于 0。"))
    if amount > MAX_AMOUNT:
        raise _invalid(_("金额不能超过 %(max)s 元。") % {"max": f"{MAX_AMOUNT:,.2f}"})
    if amount != amount.quantize(Decimal("0.01")):
        raise _invalid(_("金额最多保留两位小数(精确到分)。"))
    return amount.quantize(Decimal("0.01"))


def _points(value: Any, *, signed: bool = False) -> int:
    """A whole number of points, not zero, at most ``MAX_POINTS`` in size; positive unless ``signed``."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            value = int(value.strip())
        else:
            raise _invalid(_("积分必须是整数。"))
    if value == 0 or (value < 0 and not signed):
        raise _invalid(_("积分必须大于 0。") if not signed else _("调整积分不能为 0。"))
    if abs(value) > MAX_POINTS:
        raise _invalid(_("一次的积分不能超过 %(max)s。") % {"max": f"{MAX_POINTS:,}"})
    return int(value)


def _text(value: Any, max_length: int, label: str, *, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise _invalid(_("请填写%(label)s。") % {"label": label})
    if len(text) > max_length:
        raise _invalid(_("%(label)s不能超过 %(n)d 个字。") % {"label": label, "n": max_length})
    return text


def _choice(value: Any, choices: Any, label: str, *, blank: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if blank and not text:
        return ""
    if text in choices.values:
        return text
    by_label = {str(lbl): val for val, lbl in choices.choices}  # the Chinese name is accepted too (餐饮)
    if text in by_label:
        return by_label[text]
    raise _invalid(_("未知的%(label)s「%(value)s」。") % {"label": label, "value": text[:30]})


def _moment(value: datetime | None, *, refund: bool = False) -> datetime:
    """When a consumption (or a refund) happened: now by default; not in the future (a few minutes of clock
    difference between the POS and us is tolerated) and not before 2000."""
    now = timezone.now()
    if value is None:
        return now
    what = _("退款时间") if refund else _("消费时间")
    if not isinstance(value, datetime):
        raise _invalid(_("%(what)s格式不正确。") % {"what": what})
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + django_settings.CRM_FOLLOWUP_CLOCK_SKEW:
        raise _invalid(_("%(what)s不能晚于现在。") % {"what": what})
    if value < timezone.make_aware(EARLIEST):
        raise _invalid(_("%(what)s不能早于 2000 年。") % {"what": what})
    return value


MEMBER_FIELDS = ("id", "name", "status", "card_no")  # what the services read of a member
ACCOUNT_FIELDS = tuple(f.name for f in PointsAccount._meta.concrete_fields)


def _member(customer: Any) -> Customer:
    """The customer, re-read: only a member (正式客户) has consumption and points."""
    pk = getattr(customer, "pk", None)
    current = Customer.objects.filter(pk=pk).only(*MEMBER_FIELDS).first() if pk else None
    if current is None:
        raise LoyaltyError(UNKNOWN_MEMBER, _("找不到该会员。"))
    _check_member(current)
    return current


def _check_member(current: Customer) -> None:
    if not selectors.is_member(current):
        raise LoyaltyError(
            UNKNOWN_MEMBER,
            _("「%(name)s」现在是「%(status)s」,还不是会员,不能登记消费或积分。")
            % {"name": current.name, "status": current.get_status_display()},
        )


# ---------------------------------------------------------------------------------------------------
# The account and its ledger
# ---------------------------------------------------------------------------------------------------


def _locked_account(customer: Customer) -> PointsAccount:
    """The member's account, locked for the rest of the transaction; opened at the lowest level if the member
    has none yet (of two transactions opening it at once, the second waits for the first and then uses it)."""
    account = _locking().filter(customer=customer).first()
    if account is not None:
        return account
    _open_account(customer)
    return _locking().get(customer=customer)


def _locking() -> Any:
    return PointsAccount.objects.select_for_update(of=("self",)).select_related("level")


def _open_account(customer: Customer) -> None:
    try:
        with transaction.atomic():
            PointsAccount.objects.create(customer=customer, level=selectors.lowest_level())
    except IntegrityError:
        pass  # opened meanwhile by another transaction: use it


def _member_account(customer: Any) -> tuple[Customer, PointsAccount]:
    """The member re-read (as ``_member``) and the account locked (as ``_locked_account``): one query for a
    member who has an account, which is every member after the first consumption or points."""
    pk = getattr(customer, "pk", None)
    account = (
        _locking()
        .select_related("customer")
        .only(*ACCOUNT_FIELDS, "level", *(f"customer__{name}" for name in MEMBER_FIELDS))
        .filter(customer_id=pk)
        .first()
        if pk
        else None
    )
    if account is None:
        member = _member(customer)
        return member, _locked_account(member)
    _check_member(account.customer)
    return account.customer, account


def _move_balance(account: PointsAccount, delta: int, now: datetime) -> None:
    PointsAccount.objects.filter(pk=account.pk).update(balance=F("balance") + delta, updated_at=now)
    account.balance += delta


@dataclass
class _Ctx:
    """What the writes of one service call share: the moment, who acts, and the rules (read once)."""

    now: datetime
    actor: Any = None
    _rules: LoyaltySettings | None = None

    @property
    def rules(self) -> LoyaltySettings:
        if self._rules is None:
            self._rules = selectors.loyalty_settings()
        return self._rules


def _credit(
    account: PointsAccount,
    ctx: _Ctx,
    *,
    kind: str,
    points: int,
    earned_on: date,
    consumption: Consumption | None = None,
    reason: str = "",
    source_ref: str = "",
) -> PointsEntry:
    """A positive entry and the lot of points it brings."""
    entry = PointsEntry.objects.create(
        account=account,
        kind=kind,
        points=points,
        balance_after=account.balance + points,
        consumption=consumption,
        reason=reason[:200],
        source_ref=source_ref[:50],
        created_by=ctx.actor if getattr(ctx.actor, "is_authenticated", False) else None,
        created_at=ctx.now,
    )
    PointsLot.objects.create(
        account=account,
        entry=entry,
        points=points,
        remaining=points,
        expires_on=selectors.expiry_date(earned_on, ctx.rules.expiry_months),
    )
    _move_balance(account, points, ctx.now)
    return entry


def _take(entry: PointsEntry, account: PointsAccount, points: int, first: PointsLot | None = None) -> None:
    """Take ``points`` from the account's lots for ``entry``: ``first`` (if given and open), then the lots that
    expire soonest (never-expiring ones last), the oldest first among equals."""
    left = points
    uses: list[PointsLotUse] = []

    def use(lot_id: int, available: int) -> None:
        nonlocal left
        n = min(available, left)
        PointsLot.objects.filter(pk=lot_id).update(remaining=F("remaining") - n)
        uses.append(PointsLotUse(lot_id=lot_id, entry=entry, points=n))
        left -= n

    if first is not None:
        first.refresh_from_db(fields=["remaining"])
        if first.remaining > 0:
            use(first.pk, first.remaining)
    lots = PointsLot.objects.filter(account=account, remaining__gt=0)
    if first is not None:
        lots = lots.exclude(pk=first.pk)
    open_lots = lots.order_by(F("expires_on").asc(nulls_last=True), "id").values_list("id", "remaining")
    while left > 0:
        # A batch is used up entirely unless the debit ends in it, and a used-up lot leaves the open ones: the
        # next batch is again the first open lots.
        batch = list(open_lots[:100])
        if not batch:  # the balance said there were enough: the caches disagree with the lots
            raise RuntimeError(f"points account {account.pk}: lots hold less than the balance")
        for lot_id, remaining in batch:
            use(lot_id, remaining)
            if left == 0:
                break
    PointsLotUse.objects.bulk_create(uses)


def _debit(
    account: PointsAccount,
    ctx: _Ctx,
    *,
    kind: str,
    points: int,
    refusal: str,
    consumption: Consumption | None = None,
    reverses: PointsEntry | None = None,
    first: PointsLot | None = None,
    reason: str = "",
    source_ref: str = "",
) -> PointsEntry:
    """A negative entry of ``points`` (a positive number), taken from the lots; refused with ``refusal`` (a
    sentence that may use %(balance)d, %(points)d and %(short)d, what is missing) when the balance cannot cover
    it. Expired points are expired first."""
    _expire_account(account, ctx, timezone.localdate(ctx.now))
    if account.balance < points:
        raise LoyaltyError(
            INSUFFICIENT_POINTS,
            refusal
            % {"balance": f"{account.balance:,}", "points": f"{points:,}", "short": f"{points - account.balance:,}"},
            balance=account.balance,
            points=points,
        )
    entry = PointsEntry.objects.create(
        account=account,
        kind=kind,
        points=-points,
        balance_after=account.balance - points,
        consumption=consumption,
        reverses=reverses,
        reason=reason[:200],
        source_ref=source_ref[:50],
        created_by=ctx.actor if getattr(ctx.actor, "is_authenticated", False) else None,
        created_at=ctx.now,
    )
    _take(entry, account, points, first)
    _move_balance(account, -points, ctx.now)
    return entry


def _expire_account(account: PointsAccount, ctx: _Ctx, today: date) -> PointsEntry | None:
    """Expire what is left of the account's lots dated ``today`` or earlier: one entry for all of them."""
    lots = list(
        PointsLot.objects.filter(account=account, remaining__gt=0, expires_on__lte=today)
        .order_by("expires_on", "id")
        .values_list("id", "remaining", "expires_on")
    )
    total = sum(remaining for _id, remaining, _on in lots)
    if not total:
        return None
    entry = PointsEntry.objects.create(
        account=account,
        kind=EntryKind.EXPIRE,
        points=-total,
        balance_after=account.balance - total,
        reason=(_("积分到期(%(first)s 至 %(last)s 到期)") % {"first": lots[0][2], "last": lots[-1][2]})[:200],
        created_at=ctx.now,
    )
    PointsLot.objects.filter(pk__in=[lot_id for lot_id, _r, _on in lots]).update(remaining=0)
    PointsLotUse.objects.bulk_create(
        PointsLotUse(lot_id=lot_id, entry=entry, points=remaining) for lot_id, remaining, _on in lots
    )
    _move_balance(account, -total, ctx.now)
    return entry


def earned_for(amount: Decimal, level: MemberLevel, rule: str) -> int:
    """The points a sale of ``amount`` earns at ``level`` under the rounding rule ``rule``."""
    return int((amount * level.multiplier).quantize(Decimal(1), rounding=ROUNDING[Rounding(rule)]))


def _upgrade(account: PointsAccount, ctx: _Ctx, consumption: Consumption) -> LevelChange | None:
    """Upgrade at once when the rolling net consumption reaches a higher level (never down here)."""
    found = selectors.upgrade_for(account.customer_id, above=account.level, months=ctx.rules.window_months)
    if found is None:
        return None
    target, net = found
    return _change_level(account, ctx, target, LevelChangeReason.UPGRADE, net=net, consumption=consumption)


def _change_level(
    account: PointsAccount,
    ctx: _Ctx,
    target: MemberLevel,
    reason: str,
    *,
    net: Decimal | None = None,
    consumption: Consumption | None = None,
    note: str = "",
) -> LevelChange:
    change = LevelChange.objects.create(
        account=account,
        from_level=account.level,
        to_level=target,
        reason=reason,
        net_amount=net,
        consumption=consumption,
        note=note[:200],
        actor=ctx.actor if getattr(ctx.actor, "is_authenticated", False) else None,
        at=ctx.now,
    )
    PointsAccount.objects.filter(pk=account.pk).update(level=target, level_since=ctx.now, updated_at=ctx.now)
    account.level, account.level_since = target, ctx.now
    return change


def _duplicate(client_key: str, order_no: str, *, refund: bool) -> Consumption | None:
    if not order_no:
        return None
    found = Consumption.objects.filter(client_key=client_key, order_no=order_no, refund_of__isnull=not refund)
    return found.order_by("-order_seq", "-pk").first()


def pos_order_refusal(order_no: str, client: str) -> str:
    text = _("订单号「%(no)s」已由收银系统「%(client)s」上传过,同一笔订单只计一次。")
    return text % {"no": order_no, "client": client}


def _refuse_pos_order(order_no: str) -> None:
    found = selectors.posted_by_pos([order_no]).get(order_no)
    if found is not None:
        raise LoyaltyError(DUPLICATE_ORDER, pos_order_refusal(order_no, found[0]), consumption_id=found[1])


def _duplicate_error(existing: Consumption) -> LoyaltyError:
    return LoyaltyError(
        DUPLICATE_ORDER,
        _("订单号「%(no)s」已经登记过,同一笔订单只计一次。") % {"no": existing.order_no},
        consumption_id=existing.pk,
    )


def _insert(consumption: Consumption) -> None:
    """Insert a consumption; an order number taken meanwhile by another transaction is a duplicate. A sale's
    order number whose every earlier sale was offset by undoing its import is recorded again, one ``order_seq``
    further on (looked up only then: the usual insert costs no query more)."""
    try:
        with transaction.atomic():
            consumption.save()
        return
    except IntegrityError:
        existing = _duplicate(consumption.client_key, consumption.order_no, refund=consumption.refund_of_id is not None)
        if existing is None:
            raise
        again = None
        if consumption.refund_of_id is None:
            again = selectors.recorded_orders([consumption.order_no], consumption.client_key).get(consumption.order_no)
        if again is None:
            raise _duplicate_error(existing) from None
    consumption.order_seq = again
    try:
        with transaction.atomic():
            consumption.save()
    except IntegrityError:  # recorded again by someone else in the meantime
        raise _duplicate_error(existing) from None


# ---------------------------------------------------------------------------------------------------
# Consumption and refunds
# ---------------------------------------------------------------------------------------------------


@transaction.atomic
def consumption_record(
    *,
    customer: Customer,
    amount: Any,
    category: str,
    source: str,
    occurred_at: datetime | None = None,
    venue: str = "",
    order_no: str = "",
    payment: str = "",
    operator: Any = None,
    client_key: str = "",
    note: str = "",
    request: Any = None,
) -> Consumption:
    """Record a sale (消费): it earns points at the member's level and may upgrade the member at once.

    Refused (nothing written): not a member (``unknown_member``); a bad amount, category, payment method,
    source, time or over-long text (``invalid``); an order number already recorded for the same ``client_key``
    (``duplicate_order``, ``detail["consumption_id"]`` is the first one)."""
    value = _amount(amount)
    record = Consumption(
        amount=value,
        category=_choice(category, Category, _("消费类别")),
        source=_choice(source, ConsumptionSource, _("来源")),
        payment=_choice(payment, PaymentMethod, _("支付方式"), blank=True),
        occurred_at=_moment(occurred_at),
        venue=_text(venue, 100, _("消费场所")),
        order_no=_text(order_no, 64, _("订单号")),
        client_key=_text(client_key, 64, _("来源系统")),
        note=_text(note, 200, _("备注")),
        operator=operator if getattr(operator, "is_authenticated", False) else None,
    )
    if record.order_no and not record.client_key:  # by hand: the POS may have posted this very order already
        _refuse_pos_order(record.order_no)
    member, account = _member_account(customer)
    ctx = _Ctx(now=timezone.now(), actor=record.operator)
    record.customer, record.created_at = member, ctx.now
    _insert(record)  # a recorded order number is refused by the unique constraint (one query fewer than a check)
    points = earned_for(value, account.level, ctx.rules.rounding)
    entry = None
    if points > 0:
        entry = _credit(
            account,
            ctx,
            kind=EntryKind.EARN,
            points=points,
            earned_on=timezone.localdate(record.occurred_at),
            consumption=record,
            reason=str(record.get_category_display()),
        )
    change = _upgrade(account, ctx, record)
    audit(
        actor=record.operator,
        action=AuditAction.CREATE,
        obj=record,
        request=request,
        object_repr=_("消费 %(name)s %(amount)s 元") % {"name": member.name, "amount": value},
        changes={
            "amount": str(value),
            "category": record.category,
            "order_no": record.order_no,
            "source": record.source,
            "points": entry.points if entry else 0,
            **({"level": [str(change.from_level), str(change.to_level)]} if change else {}),
        },
    )
    # What a caller reports back (the POS API) without reading it again.
    record.points_earned, record.balance_after, record.level_after = (
        points if entry else 0,
        account.balance,
        account.level,
    )
    return record


def _refund_shortfall(member: Customer, operator: Any) -> str:
    """The refusal of a refund whose reversal the member's points cannot cover (for ``_debit``), ending with what
    the person refunding can do: apply for a 积分调整 if they may, else ask the member's owner (负责人) to."""
    short = _(
        "会员「%(name)s」现有积分 %%(balance)s,不足以扣回这次退款应扣回的 %%(points)s 积分(还差 %%(short)s),退款未登记;"
    ) % {"name": member.name}
    if operator is not None and operator.has_perm(APPLY_ADJUSTMENT):
        return short + _("请先申请积分调整补足差额后再退款。")
    if member.owner is not None and member.owner != operator:
        return short + _("请联系该会员的负责人「%(owner)s」申请积分调整补足差额后再退款。") % {
            "owner": str(member.owner)  # the login name: 张伟(销售二组), not one of two 张伟
        }
    return short + _("请联系有权申请积分调整的同事补足差额后再退款。")


@transaction.atomic
def consumption_refund(
    *,
    original: Consumption,
    amount: Any,
    source: str,
    occurred_at: datetime | None = None,
    order_no: str = "",
    operator: Any = None,
    client_key: str = "",
    note: str = "",
    request: Any = None,
) -> Consumption:
    """Record a refund (退款) of ``amount`` (a positive number of yuan) of the sale ``original``: a negative
    consumption referencing it, and the reversal of the points the sale earned (proportionally for a partial
    refund; in total never more than it earned, exactly what it earned once fully refunded).

    Refused (nothing written): the original is itself a refund, or ``amount`` exceeds what is left to refund
    (``invalid``); the member's balance cannot cover the reversal (``insufficient_points``, see the module's
    docstring); a refund number already recorded (``duplicate_order``)."""
    value = _amount(amount)
    refund = Consumption(
        amount=-value,
        source=_choice(source, ConsumptionSource, _("来源")),
        occurred_at=_moment(occurred_at, refund=True),
        order_no=_text(order_no, 64, _("退款单号")),
        client_key=_text(client_key, 64, _("来源系统")),
        note=_text(note, 200, _("备注")),
        operator=operator if getattr(operator, "is_authenticated", False) else None,
    )
    if original is None or original.pk is None:
        raise _invalid(_("请选择要退款的消费记录。"))
    sale = Consumption.objects.select_related("customer__owner").filter(pk=original.pk).first()
    if sale is None:
        raise _invalid(_("要退款的消费记录不存在。"))
    if sale.refund_of_id is not None:
        raise _invalid(_("这是一条退款记录,不能再退款;请选择原消费记录。"))
    if refund.occurred_at < sale.occurred_at:
        raise _invalid(_("退款时间不能早于原消费时间。"))
    account = _locked_account(sale.customer)  # serialises refunds of one member: the sums below stay true
    left = selectors.refundable_amount(sale)
    if left <= 0:
        raise _invalid(_("这笔消费已全部退款。"), refundable="0.00")
    if value > left:
        raise _invalid(
            _("退款金额 %(amount)s 元超过了这笔消费尚可退的 %(left)s 元。")
            % {"amount": f"{value:,}", "left": f"{left:,}"},
            refundable=str(left),
        )
    ctx = _Ctx(now=timezone.now(), actor=refund.operator)
    refund.customer, refund.refund_of, refund.category, refund.venue = sale.customer, sale, sale.category, sale.venue
    refund.payment, refund.created_at = sale.payment, ctx.now
    _insert(refund)
    earn = selectors.earn_entry(sale)
    reversed_now = 0
    if earn is not None:
        refunded = sale.amount - left + value  # including this refund
        target = int(earn.points * refunded // sale.amount)  # exactly what it earned once fully refunded
        reversed_now = target - selectors.reversed_points(earn)
    if reversed_now > 0:
        assert earn is not None
        _debit(
            account,
            ctx,
            kind=EntryKind.REVERSAL,
            points=reversed_now,
            refusal=_refund_shortfall(sale.customer, refund.operator),
            consumption=refund,
            reverses=earn,
            first=PointsLot.objects.get(entry=earn),
            reason=_("退款扣回"),
        )
    audit(
        actor=refund.operator,
        action=AuditAction.CREATE,
        obj=refund,
        request=request,
        object_repr=_("退款 %(name)s %(amount)s 元") % {"name": sale.customer.name, "amount": value},
        changes={"amount": str(-value), "refund_of": sale.pk, "order_no": refund.order_no, "points": -reversed_now},
    )
    refund.points_reversed, refund.balance_after, refund.level_after = reversed_now, account.balance, account.level
    return refund


# ---------------------------------------------------------------------------------------------------
# Points
# ---------------------------------------------------------------------------------------------------


def _audit_entry(entry: PointsEntry, member: Customer, actor: Any, request: Any) -> None:
    audit(
        actor=actor,
        action=AuditAction.CREATE,
        obj=entry,
        request=request,
        object_repr=f"{entry.get_kind_display()} {member.name} {entry.points:+d}",
        changes={
            "kind": entry.kind,
            "points": entry.points,
            "balance": entry.balance_after,
            "reason": entry.reason,
            "source": entry.source_ref,
        },
    )


@transaction.atomic
def points_gift(
    *, customer: Customer, points: Any, reason: str, source_ref: str = "", actor: Any = None, request: Any = None
) -> PointsEntry:
    """积分赠送: credit ``points`` to the member (from an approved marketing application, ``source_ref`` naming
    it, e.g. ``application:12``)."""
    n = _points(points)
    why = _text(reason, 200, _("赠送原因"), required=True)
    ref = _text(source_ref, 50, _("来源"))
    member, account = _member_account(customer)
    ctx = _Ctx(now=timezone.now(), actor=actor)
    entry = _credit(
        account, ctx, kind=EntryKind.GIFT, points=n, earned_on=timezone.localdate(ctx.now), reason=why, source_ref=ref
    )
    _audit_entry(entry, member, actor, request)
    return entry


@transaction.atomic
def points_redeem(
    *,
    customer: Customer,
    points: Any,
    reason: str = "",
    source_ref: str = "",
    once: bool = False,
    operator: Any = None,
    request: Any = None,
) -> PointsEntry:
    """积分兑换: take ``points`` from the member, the soonest-expiring first. Refused with ``insufficient_points``
    when the balance (after expiring what is past its date) is short; with ``once``, refused with
    ``duplicate_order`` when the member already has a redemption of the same ``source_ref`` (a POS order number:
    checked under the account's lock, so two at once cannot both pass). Nothing is written then."""
    n = _points(points)
    why = _text(reason, 200, _("兑换说明"))
    ref = _text(source_ref, 50, _("来源"))
    member, account = _member_account(customer)
    if once and ref:
        earlier = PointsEntry.objects.filter(account=account, kind=EntryKind.REDEEM, source_ref=ref).first()
        if earlier is not None:
            raise LoyaltyError(
                DUPLICATE_ORDER,
                _("兑换单号「%(no)s」已经兑换过(%(points)s 积分),同一张兑换单只扣一次。")
                % {"no": ref.split(":", 1)[-1], "points": f"{-earlier.points:,}"},
                entry_id=earlier.pk,
            )
    ctx = _Ctx(now=timezone.now(), actor=operator)
    entry = _debit(
        account,
        ctx,
        kind=EntryKind.REDEEM,
        points=n,
        refusal=_("积分不足:会员「%(name)s」现有积分 %%(balance)s,不够兑换 %%(points)s 积分(还差 %%(short)s)。")
        % {"name": member.name},
        reason=why,
        source_ref=ref,
    )
    _audit_entry(entry, member, operator, request)
    return entry


@transaction.atomic
def points_adjust(
    *, customer: Customer, points: Any, reason: str, actor: Any = None, source_ref: str = "", request: Any = None
) -> PointsEntry:
    """积分调整: add (positive) or take (negative, at most the balance) ``points``. Reached through an approved
    积分调整 application (``points_adjust_approved``); ``source_ref`` names the application."""
    n = _points(points, signed=True)
    why = _text(reason, 200, _("调整原因"), required=True)
    ref = _text(source_ref, 50, _("来源"))
    member, account = _member_account(customer)
    ctx = _Ctx(now=timezone.now(), actor=actor)
    if n > 0:
        entry = _credit(
            account,
            ctx,
            kind=EntryKind.ADJUST,
            points=n,
            earned_on=timezone.localdate(ctx.now),
            reason=why,
            source_ref=ref,
        )
    else:
        entry = _debit(
            account,
            ctx,
            kind=EntryKind.ADJUST,
            points=-n,
            refusal=_("会员「%(name)s」现有积分 %%(balance)s,不够扣减 %%(points)s 积分(还差 %%(short)s)。")
            % {"name": member.name},
            reason=why,
            source_ref=ref,
        )
    _audit_entry(entry, member, actor, request)
    return entry


def points_adjust_approved(adjustment: Any, application: Any, actor: Any) -> None:
    """The effect of an approved 积分调整 application, in the approving transaction: a refusal (a deduction
    larger than the balance by now) reaches the approver and the approval does not happen."""
    points_adjust(
        customer=adjustment.customer,
        points=adjustment.points,
        reason=adjustment.reason,
        actor=actor,
        source_ref=f"application:{application.pk}",
    )


# ---------------------------------------------------------------------------------------------------
# Scheduled: expiry and the yearly review
# ---------------------------------------------------------------------------------------------------


def points_expire(*, today: date | None = None) -> dict[str, int]:
    """Expire every lot dated ``today`` or earlier (the daily run): per account one expire entry, in one
    transaction per account. Running it again the same day finds nothing left to do."""
    today = today or timezone.localdate()
    account_ids = list(
        PointsLot.objects.filter(remaining__gt=0, expires_on__lte=today)
        .values_list("account_id", flat=True)
        .distinct()
        .order_by("account_id")
    )
    accounts = points = 0
    for account_id in account_ids:
        with transaction.atomic():
            account = PointsAccount.objects.select_for_update().get(pk=account_id)
            entry = _expire_account(account, _Ctx(now=timezone.now()), today)
            if entry is not None:
                accounts += 1
                points -= entry.points
    if accounts:
        audit(
            actor=None,
            action=AuditAction.UPDATE,
            object_repr=_("积分过期 %(day)s") % {"day": today},
            changes={"accounts": accounts, "points": points},
        )
    return {"accounts": accounts, "points": points}


def level_yearly_review(*, today: date | None = None, force: bool = False, actor: Any = None) -> dict[str, Any]:
    """年度评定: every member's level becomes the one the net consumption of the rolling window ending ``today``
    reaches: down (the only place a level goes down) or up. Runs once a year: a second run in the same year is
    skipped unless ``force``."""
    today = today or timezone.localdate()
    rules = selectors.loyalty_settings()
    if not force and rules.last_review_on is not None and rules.last_review_on.year == today.year:
        return {"skipped": True, "last_review_on": rules.last_review_on.isoformat(), "down": 0, "up": 0}
    as_of = selectors.day_end(today)
    start = selectors.window_start(as_of, rules.window_months)
    ladder = selectors.levels()
    by_customer: dict[int, Decimal] = {
        row["customer_id"]: row["net"]
        for row in Consumption.objects.filter(occurred_at__gt=start, occurred_at__lte=as_of)
        .values("customer_id")
        .annotate(net=Sum("amount"))
        .order_by()
    }
    zero = Decimal("0.00")
    moves = [
        account_id
        for account_id, customer_id, level_id in PointsAccount.objects.values_list("id", "customer_id", "level_id")
        if selectors.qualifying_level(by_customer.get(customer_id, zero), ladder).pk != level_id
    ]
    down = up = 0
    for account_id in moves:
        with transaction.atomic():
            account = PointsAccount.objects.select_for_update().select_related("level").get(pk=account_id)
            net = selectors.rolling_net(account.customer_id, as_of=as_of, months=rules.window_months)
            target = selectors.qualifying_level(net, ladder)
            if target.pk == account.level_id:
                continue
            before = account.level.rank
            _change_level(
                account,
                _Ctx(now=timezone.now(), actor=actor),
                target,
                LevelChangeReason.REVIEW,
                net=net,
                note=_("%(day)s 年度评定") % {"day": today},
            )
            if target.rank < before:
                down += 1
            else:
                up += 1
    LoyaltySettings.objects.filter(pk=rules.pk).update(last_review_on=today)
    audit(
        actor=actor,
        action=AuditAction.UPDATE,
        object_repr=_("会员等级年度评定 %(day)s") % {"day": today},
        changes={"down": down, "up": up},
    )
    return {"skipped": False, "down": down, "up": up}


@transaction.atomic
def level_set(*, actor: Any, customer: Customer, level: MemberLevel, note: str, request: Any = None) -> LevelChange:
    """Set a member's level by hand (手工调整), with a note saying why; audited. The next yearly review applies the
    rules again."""
    why = _text(note, 200, _("调整说明"), required=True)
    if level is None or not MemberLevel.objects.filter(pk=level.pk).exists():
        raise _invalid(_("请选择会员等级。"))
    member, account = _member_account(customer)
    if account.level_id == level.pk:
        raise _invalid(_("「%(name)s」已经是%(level)s。") % {"name": member.name, "level": level.name})
    before = account.level
    change = _change_level(account, _Ctx(now=timezone.now(), actor=actor), level, LevelChangeReason.MANUAL, note=why)
    audit(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=account,
        request=request,
        object_repr=_("会员等级 %(name)s") % {"name": member.name},
        changes={"level": [before.name, level.name], "note": why},
    )
    return change


# ---------------------------------------------------------------------------------------------------
# 系统管理 › 积分规则
# ---------------------------------------------------------------------------------------------------

SETTINGS_FIELDS = ("window_months", "rounding", "expiry_months")


@transaction.atomic
def settings_update(
    *, actor: Any, window_months: Any, rounding: str, expiry_months: Any, request: Any = None
) -> LoyaltySettings:
    """Change 积分规则; audited field by field. A new expiry period applies to points earned from now on; points
    already earned keep their date."""

    def months(value: Any, label: str, low: int, high: int) -> int:
        try:
            n = int(str(value).strip())
        except ValueError:
            raise _invalid(_("%(label)s必须是整数。") % {"label": label}) from None
        if not low <= n <= high:
            raise _invalid(_("%(label)s必须在 %(low)d 到 %(high)d 之间。") % {"label": label, "low": low, "high": high})
        return n

    window = months(window_months, _("等级统计周期(月)"), 1, 60)
    expiry = months(expiry_months, _("积分有效期(月)"), 0, 120)
    rule = _choice(rounding, Rounding, _("积分取整方式"))
    selectors.loyalty_settings()  # the row exists
    rules = LoyaltySettings.objects.select_for_update().get(pk=1)
    with audited(actor=actor, obj=rules, fields=SETTINGS_FIELDS, request=request):
        rules.window_months, rules.rounding, rules.expiry_months = window, rule, expiry
        rules.save()
    return rules


LEVEL_FIELDS = ("name", "rank", "threshold", "multiplier")


class _Level(NamedTuple):
    name: str
    rank: int
    threshold: Decimal
    multiplier: Decimal


def _level_fields(name: Any, rank: Any, threshold: Any, multiplier: Any) -> _Level:
    """A level's name, rank, threshold and multiplier, checked one by one."""
    label = _text(name, 20, _("等级名称"), required=True)
    try:
        order = int(str(rank).strip())
    except ValueError:
        raise _invalid(_("级别必须是整数。")) from None
    if not 0 <= order <= 100:
        raise _invalid(_("级别必须在 0 到 100 之间。"))
    try:
        floor = Decimal(str(threshold).strip())
        rate = Decimal(str(multiplier).strip())
    except InvalidOperation:
        raise _invalid(_("升级门槛和积分倍率必须是数字。")) from None
    if not floor.is_finite() or not 0 <= floor < Decimal("1e12") or floor != floor.quantize(Decimal("0.01")):
        raise _invalid(_("升级门槛必须是不小于 0 的金额,精确到分。"))
    if rate.is_finite() and rate <= 0:
        raise _invalid(_("「%(name)s」的积分倍率必须大于 0。") % {"name": label})
    if not rate.is_finite() or not 0 <= rate <= 100 or rate != rate.quantize(Decimal("0.01")):
        raise _invalid(_("积分倍率必须在 0 到 100 之间,最多两位小数。"))
    cent = Decimal("0.01")
    return _Level(label, order, floor.quantize(cent), rate.quantize(cent))


def levels_check() -> None:
    """The levels form a ladder: at least one, the lowest one's threshold 0, each higher one's threshold higher."""
    ladder = list(MemberLevel.objects.order_by("rank"))
    if not ladder:
        raise _invalid(_("至少要保留一个会员等级。"))
    if ladder[0].threshold != 0:
        raise _invalid(_("最低的会员等级升级门槛必须是 0。"))
    for lower, higher in pairwise(ladder):
        if higher.threshold <= lower.threshold:
            raise _invalid(
                _("「%(higher)s」的升级门槛必须高于「%(lower)s」的。") % {"higher": higher.name, "lower": lower.name}
            )


@transaction.atomic
def level_save(
    *,
    actor: Any,
    name: str,
    rank: Any,
    threshold: Any,
    multiplier: Any,
    level: MemberLevel | None = None,
    request: Any = None,
    check: bool = True,
) -> MemberLevel:
    """Create a member level, or change ``level``; audited. The levels must stay a ladder: the lowest one's
    threshold is 0, and a higher level has a higher threshold (``check=False`` leaves that to the caller, which
    saves several levels and then calls ``levels_check``)."""
    label, order, floor, rate = _level_fields(name, rank, threshold, multiplier)
    others = MemberLevel.objects.select_for_update()
    if level is not None:
        others = others.exclude(pk=level.pk)
    if others.filter(name=label).exists():
        raise _invalid(_("已有名为「%(name)s」的会员等级。") % {"name": label})
    if others.filter(rank=order).exists():
        raise _invalid(_("已有级别为 %(rank)d 的会员等级。") % {"rank": order})
    obj = MemberLevel.objects.select_for_update().filter(pk=level.pk).first() if level is not None else MemberLevel()
    if obj is None:
        raise _invalid(_("这个会员等级已被删除,请刷新后重试。"))
    with audited(actor=actor, obj=obj, fields=LEVEL_FIELDS, request=request):
        obj.name, obj.rank, obj.threshold, obj.multiplier = label, order, floor, rate
        obj.save()
    if check:
        levels_check()
    return obj


@transaction.atomic
def level_delete(*, actor: Any, level: MemberLevel, request: Any = None, check: bool = True) -> None:
    """Delete a member level that no member holds and no level change names (the history stays readable);
    audited. Refused otherwise, and when the levels left would not be a ladder."""
    pk = getattr(level, "pk", None)
    obj = MemberLevel.objects.select_for_update().filter(pk=pk).first() if pk is not None else None
    if obj is None:
        raise _invalid(_("这个会员等级已被删除,请刷新后重试。"))
    held = PointsAccount.objects.filter(level=obj).count()
    if held:
        raise _invalid(
            _("「%(name)s」现有 %(n)d 位会员,不能删除;可以修改它的门槛和倍率。") % {"name": obj.name, "n": held}
        )
    if LevelChange.objects.filter(Q(from_level=obj) | Q(to_level=obj)).exists():
        raise _invalid(
            _("「%(name)s」出现在会员的等级变动记录中,不能删除;可以修改它的名称、门槛和倍率。") % {"name": obj.name}
        )
    audit(
        actor=actor,
        action=AuditAction.DELETE,
        obj=obj,
        request=request,
        changes={name: [str(getattr(obj, name)), None] for name in LEVEL_FIELDS},
    )
    obj.delete()
    if check:
        levels_check()


def _level_place_free(current: dict[int, MemberLevel], level: MemberLevel | None, name: str, rank: int) -> bool:
    """Whether no other level holds ``name`` or ``rank`` now."""
    own = level.pk if level is not None else None
    return not any(lv.name == name or lv.rank == rank for pk, lv in current.items() if pk != own)


@transaction.atomic
def rules_update(
    *,
    actor: Any,
    window_months: Any,
    rounding: str,
    expiry_months: Any,
    levels: list[tuple[MemberLevel | None, dict[str, Any]]],
    delete: list[MemberLevel] | tuple[MemberLevel, ...] = (),
    request: Any = None,
) -> LoyaltySettings:
    """系统管理 › 积分规则 saved at once: the rules, then the member levels — ``delete`` removed, each of ``levels``
    (an existing level or ``None`` for a new one, with its name, rank, threshold and multiplier) saved. The
    ladder is checked once all are saved, so that one save may move several thresholds or renumber the ranks;
    the first problem refuses the whole save and nothing is written."""
    rules = settings_update(
        actor=actor, window_months=window_months, rounding=rounding, expiry_months=expiry_months, request=request
    )
    current = {lv.pk: lv for lv in MemberLevel.objects.select_for_update().order_by("pk")}
    for gone in delete:
        level_delete(actor=actor, level=gone, request=request, check=False)
        current.pop(gone.pk, None)
    pending = [(level, _level_fields(**fields)) for level, fields in levels]
    # the levels as they will be: no two with one name or one rank
    final = {pk: (lv.name, lv.rank) for pk, lv in current.items()}
    final.update({lv.pk: (f.name, f.rank) for lv, f in pending if lv is not None})
    final_names = [name for name, _rank in final.values()] + [f.name for lv, f in pending if lv is None]
    final_ranks = [rank for _name, rank in final.values()] + [f.rank for lv, f in pending if lv is None]
    for name in final_names:
        if final_names.count(name) > 1:
            raise _invalid(_("已有名为「%(name)s」的会员等级。") % {"name": name})
    for rank in final_ranks:
        if final_ranks.count(rank) > 1:
            raise _invalid(_("已有级别为 %(rank)d 的会员等级。") % {"rank": rank})
    # each saved once its name and rank are free: a level moving up makes room for the one below it
    while pending:
        ready = [(lv, f) for lv, f in pending if _level_place_free(current, lv, f.name, f.rank)]
        if not ready:
            raise _invalid(_("两个会员等级不能在一次保存中互换名称或级别;请先把其中一个改成未用的名称或级别并保存。"))
        for lv, f in ready:
            saved = level_save(actor=actor, level=lv, request=request, check=False, **f._asdict())
            current[saved.pk] = saved
            pending.remove((lv, f))
    levels_check()
    return rules


# ---------------------------------------------------------------------------------------------------
# The customer module's merge
# ---------------------------------------------------------------------------------------------------


def _holds_loyalty(customer: Customer) -> bool:
    return (
        Consumption.objects.filter(customer=customer).exists()
        or PointsAccount.objects.filter(customer=customer).exists()
    )


def _merge_guard(keep: Any, drop: Any) -> str | None:
    """A customer with consumption or points is never merged away (its ledger is append-only and would be left
    behind); it may be the record kept."""
    if not isinstance(drop, Customer) or not _holds_loyalty(drop):
        return None
    if _holds_loyalty(keep):
        return _("「%(a)s」和「%(b)s」都有消费或积分记录,不能合并;请联系系统管理员处理。") % {
            "a": keep.name,
            "b": drop.name,
        }
    return _("「%(name)s」已有消费或积分记录,不能作为被合并的一方;请把它选为保留的记录。") % {"name": drop.name}


customer_services.merge_guards.append(_merge_guard)
