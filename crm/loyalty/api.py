"""The POS API (``/api/v1/``): member lookup, balance and level, consumption and refunds, redemption, ledger.

Handlers only parse, call one selector or service, and answer. A write goes through ``crm.core.api.idempotent``
(its ``Idempotency-Key`` header is required); a POS order number is unique per client as a second guard. The
errors of the services (``LoyaltyError``) become JSON with their stable code: unknown member 404, insufficient
points 409, a duplicate order number 409, anything invalid 422. See docs/api.md.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Field, Header, Query, Router, Schema

from crm.core.api import ApiError, Body, Error, api, idempotent, labelled, operation, require
from crm.core.masking import mask_mobile
from crm.customers.models import Customer

from . import selectors, services
from .errors import LoyaltyError
from .models import Category, Consumption, ConsumptionSource, PaymentMethod

MEMBER_READ = operation("member.read", gettext_lazy("查询会员(余额、等级、积分流水)"))
CONSUMPTION_POST = operation("consumption.post", gettext_lazy("上传消费与退款"))
POINTS_REDEEM = operation("points.redeem", gettext_lazy("积分兑换"))

router = Router(tags=["会员与积分"])

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold U+0000
CardNo = Annotated[
    str, Field(min_length=1, max_length=30, pattern=NO_NUL, description="会员卡号", examples=["JSH2026000123"])
]
OrderNo = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL, description="POS 订单号(同一客户端内唯一)")]
Amount = Annotated[
    Decimal,
    Field(gt=0, le=services.MAX_AMOUNT, decimal_places=2, description="金额(元):大于 0,最多两位小数,不超过 10,000,000"),
]
Points = Annotated[int, Field(gt=0, le=10_000_000, description="积分")]
IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=1, max_length=128, description="每个新请求一个新的键(如 UUID)")
]

# The codes of Category and PaymentMethod, spelled out for the document (a test keeps them equal).
CategoryCode = Literal["dining", "tea_wine", "room", "spa", "entertainment", "membership", "other"]
PaymentCode = Literal["cash", "card", "stored_value", "transfer", "wechat", "alipay", "on_account", "other"]


# ---------------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------------


class Member(Schema):
    card_no: str
    name: str
    mobile: str = Field(description="掩码后的手机号")
    level: str
    balance: int
    expiring_30_days: int = Field(description="30 天内到期的积分")


class Entry(Schema):
    id: int
    at: datetime
    kind: str
    kind_label: str
    points: int
    balance_after: int
    reason: str
    order_no: str | None = Field(
        None, description="单号:消费或退款的订单号,或 POS 兑换单号;没有单号(如积分赠送、调整、过期)时为 null"
    )


class ConsumptionIn(Body):
    card_no: CardNo
    order_no: OrderNo
    amount: Amount
    category: Annotated[CategoryCode, labelled(Category.choices)] = Field(
        description="餐饮 dining、茶酒 tea_wine、客房 room、SPA spa、娱乐 entertainment、会籍 membership、其他 other"
    )
    occurred_at: datetime | None = Field(None, description="消费时间(默认为收到请求的时间)")
    venue: str = Field("", max_length=100, pattern=NO_NUL)
    payment: Annotated[PaymentCode, labelled(PaymentMethod.choices)] | None = Field(
        None,
        description=(
            "现金 cash、刷卡 card、储值 stored_value、转账 transfer、微信 wechat、支付宝 alipay、挂账 on_account、"
            "其他 other"
        ),
    )
    note: str = Field("", max_length=200, pattern=NO_NUL)


class RefundIn(Body):
    order_no: OrderNo = Field(description="退款单号(同一客户端内唯一)")
    original_order_no: OrderNo = Field(description="原消费的 POS 订单号")
    amount: Amount
    occurred_at: datetime | None = None
    note: str = Field("", max_length=200, pattern=NO_NUL)


class ConsumptionOut(Schema):
    id: int
    card_no: str
    order_no: str
    amount: Decimal
    points: int = Field(description="本笔获得(负数为扣回)的积分")
    balance: int
    level: str


class RedeemIn(Body):
    card_no: CardNo
    points: Points
    reason: str = Field("", max_length=200, pattern=NO_NUL)
    order_no: str = Field(
        "", max_length=40, pattern=NO_NUL, description="POS 兑换单号(可选;记入流水来源,同一会员的同一单号只扣一次)"
    )


class RedeemOut(Schema):
    entry_id: int
    card_no: str
    points: int
    balance: int


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _client_key(request: HttpRequest) -> str:
    return f"api:{request.auth.pk}"  # type: ignore[attr-defined]


def _unknown(what: str) -> ApiError:
    return ApiError(404, "unknown_member", _("找不到会员「%(v)s」。") % {"v": what[:30]})


def _member_by_card(card_no: str) -> Customer:
    if "\x00" in card_no:
        raise _unknown(card_no.replace("\x00", ""))
    customer = (
        Customer.objects.filter(card_no=card_no.strip().upper()[:30])
        .only("id", "name", "status", "card_no", "mobile")
        .first()
    )
    if customer is None or not selectors.is_member(customer):
        raise _unknown(card_no)
    return customer


def _member_out(customer: Customer) -> dict[str, Any]:
    account = selectors.account_of(customer)
    return {
        "card_no": customer.card_no,
        "name": customer.name,
        "mobile": mask_mobile(customer.mobile),
        "level": str(account.level if account else selectors.lowest_level()),
        "balance": account.balance if account else 0,
        "expiring_30_days": selectors.expiring(customer, days=30).total,
    }


def _refused(exc: LoyaltyError) -> ApiError:
    message = " ".join(str(m) for m in exc.messages)
    extra = {k: v for k, v in exc.detail.items() if isinstance(v, str | int)}
    return ApiError(exc.http_status, str(exc.code), message, **extra)


# ---------------------------------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------------------------------


@router.get("/members/lookup", response={200: Member, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error})
def member_lookup(
    request: HttpRequest,
    card_no: Annotated[str | None, Query(max_length=30, pattern=NO_NUL, description="会员卡号")] = None,
    mobile: Annotated[str | None, Query(max_length=20, pattern=NO_NUL, description="手机号(11 位)")] = None,
) -> Any:
    """按会员卡号或手机号查找会员:姓名、等级、可用积分。两者都给时须是同一位会员。"""
    require(request, MEMBER_READ)
    digits = "".join(c for c in (mobile or "") if c.isdigit())
    if card_no and card_no.strip():
        customer = _member_by_card(card_no)
        if mobile and mobile.strip() and digits != customer.mobile:
            shown = mask_mobile(digits) if len(digits) == 11 else mobile.strip()[:20]
            raise ApiError(
                422,
                "invalid",
                _("会员卡号「%(card)s」与手机号「%(mobile)s」不是同一位会员。")
                % {"card": customer.card_no, "mobile": shown},
            )
        return _member_out(customer)
    if len(digits) != 11:
        raise ApiError(422, "invalid", _("请提供会员卡号,或 11 位手机号。"))
    found = [c for c in Customer.objects.filter(Q(mobile=digits)).order_by("id")[:5] if selectors.is_member(c)]
    if not found:
        raise _unknown(mask_mobile(digits))
    if len(found) > 1:
        raise ApiError(409, "ambiguous_member", _("该手机号对应多位会员,请用会员卡号查询。"))
    return _member_out(found[0])


@router.get("/members/{card_no}", response={200: Member, 401: Error, 403: Error, 404: Error, 422: Error})
def member_detail(request: HttpRequest, card_no: str) -> Any:
    """一位会员的等级、可用积分和 30 天内到期的积分。"""
    require(request, MEMBER_READ)
    return _member_out(_member_by_card(card_no[:30]))


@router.get("/members/{card_no}/ledger", response={200: list[Entry], 401: Error, 403: Error, 404: Error, 422: Error})
def member_ledger(request: HttpRequest, card_no: str, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
    """会员最近的积分流水,新的在前。"""
    require(request, MEMBER_READ)
    customer = _member_by_card(card_no[:30])
    account = selectors.account_of(customer)
    if account is None:
        return []
    return [
        {
            "id": e.pk,
            "at": timezone.localtime(e.created_at),  # the club's time, as every other time the API gives
            "kind": e.kind,
            "kind_label": e.get_kind_display(),
            "points": e.points,
            "balance_after": e.balance_after,
            "reason": e.reason,
            "order_no": e.order_no or None,
        }
        for e in selectors.ledger(account)[:limit]
    ]


@router.post(
    "/consumptions", response={201: ConsumptionOut, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error}
)
def consumption_post(request: HttpRequest, payload: ConsumptionIn, idempotency_key: IdempotencyKey) -> HttpResponse:
    """上传一笔消费:按会员等级积分,达到门槛立即升级。"""
    require(request, CONSUMPTION_POST)

    def write() -> tuple[int, dict[str, Any]]:
        customer = _member_by_card(payload.card_no)
        try:
            record = services.consumption_record(
                customer=customer,
                amount=payload.amount,
                category=payload.category,
                source=ConsumptionSource.API,
                occurred_at=payload.occurred_at,
                venue=payload.venue,
                order_no=payload.order_no,
                payment=payload.payment or "",
                client_key=_client_key(request),
                note=payload.note,
                request=request,
            )
        except LoyaltyError as exc:
            raise _refused(exc) from None
        return 201, {
            "id": record.pk,
            "card_no": customer.card_no,
            "order_no": record.order_no,
            "amount": str(record.amount),
            "points": record.points_earned,
            "balance": record.balance_after,
            "level": str(record.level_after),
        }

    return idempotent(request, idempotency_key, payload.dict(), write)


@router.post("/refunds", response={201: ConsumptionOut, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error})
def refund_post(request: HttpRequest, payload: RefundIn, idempotency_key: IdempotencyKey) -> HttpResponse:
    """退款:按原订单号登记一笔负数消费,按比例扣回原消费所得积分。"""
    require(request, CONSUMPTION_POST)

    def write() -> tuple[int, dict[str, Any]]:
        mine = Consumption.objects.filter(client_key=_client_key(request), order_no=payload.original_order_no)
        original = mine.filter(refund_of__isnull=True).order_by("-order_seq").first()
        if original is None and mine.exists():  # the number of one of its refunds
            raise ApiError(
                422,
                "invalid",
                _("「%(no)s」是退款单号,不能再退款;original_order_no 请填写原消费的订单号。")
                % {"no": payload.original_order_no},
            )
        if original is None:
            raise ApiError(
                404, "unknown_order", _("找不到订单号为「%(no)s」的消费。") % {"no": payload.original_order_no}
            )
        try:
            refund = services.consumption_refund(
                original=original,
                amount=payload.amount,
                source=ConsumptionSource.API,
                occurred_at=payload.occurred_at,
                order_no=payload.order_no,
                client_key=_client_key(request),
                note=payload.note,
                request=request,
            )
        except LoyaltyError as exc:
            raise _refused(exc) from None
        return 201, {
            "id": refund.pk,
            "card_no": original.customer.card_no,
            "order_no": refund.order_no,
            "amount": str(refund.amount),
            "points": -refund.points_reversed,
            "balance": refund.balance_after,
            "level": str(refund.level_after),
        }

    return idempotent(request, idempotency_key, payload.dict(), write)


@router.post("/redemptions", response={201: RedeemOut, 401: Error, 403: Error, 404: Error, 409: Error, 422: Error})
def redemption_post(request: HttpRequest, payload: RedeemIn, idempotency_key: IdempotencyKey) -> HttpResponse:
    """积分兑换:余额不足时 409,什么也不扣。"""
    require(request, POINTS_REDEEM)

    def write() -> tuple[int, dict[str, Any]]:
        customer = _member_by_card(payload.card_no)
        try:
            entry = services.points_redeem(
                customer=customer,
                points=payload.points,
                reason=payload.reason or _("POS 兑换"),
                source_ref=f"pos:{payload.order_no}" if payload.order_no else "pos",
                once=bool(payload.order_no),
                request=request,
            )
        except LoyaltyError as exc:
            raise _refused(exc) from None
        return 201, {
            "entry_id": entry.pk,
            "card_no": customer.card_no,
            "points": entry.points,
            "balance": entry.balance_after,
        }

    return idempotent(request, idempotency_key, payload.dict(), write)


api.add_router("/", router)
