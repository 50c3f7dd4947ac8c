"""The loyalty services: earning, levels, refunds, redemption, gifts, adjustments, expiry and the yearly review,
with every refusal checked to leave nothing behind."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from django.utils import timezone

from crm.core.models import AuditLog
from crm.customers.models import Customer, CustomerStatus
from crm.loyalty import selectors, services
from crm.loyalty.errors import LoyaltyError
from crm.loyalty.models import (
    Consumption,
    EntryKind,
    LevelChange,
    LevelChangeReason,
    LoyaltySettings,
    MemberLevel,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsLotUse,
)

from .conftest import D, account, consistent, make_member

pytestmark = pytest.mark.django_db

Buy = Callable[..., Consumption]


def level(name: str) -> MemberLevel:
    return MemberLevel.objects.get(name=name)


def set_rules(**kw: Any) -> None:
    LoyaltySettings.objects.filter(pk=1).update(**kw)


def snapshot() -> tuple[int, ...]:
    """Row counts of everything a service may write."""
    return (
        Consumption.objects.count(),
        PointsAccount.objects.count(),
        PointsEntry.objects.count(),
        PointsLot.objects.count(),
        PointsLotUse.objects.count(),
        LevelChange.objects.count(),
        AuditLog.objects.count(),
        sum(PointsAccount.objects.values_list("balance", flat=True)),
        sum(PointsLot.objects.values_list("remaining", flat=True)),
    )


def refused(code: str, call: Callable[[], Any], match: str = "") -> LoyaltyError:
    """The service refuses with ``code`` and a message containing ``match`` (plain text), and writes nothing."""
    before = snapshot()
    with pytest.raises(LoyaltyError, match=re.escape(match) if match else None) as info:
        call()
    assert info.value.code == code
    assert snapshot() == before, "a refusal wrote something"
    return info.value


# --- defaults -----------------------------------------------------------------------------------------


def test_the_default_levels_and_rules() -> None:
    ladder = [(lv.name, lv.threshold, lv.multiplier) for lv in selectors.levels()]
    assert ladder == [
        ("普卡", D("0.00"), D("1.00")),
        ("银卡", D("50000.00"), D("1.20")),
        ("金卡", D("200000.00"), D("1.50")),
        ("钻石卡", D("1000000.00"), D("2.00")),
    ]
    rules = selectors.loyalty_settings()
    assert (rules.window_months, rules.rounding, rules.expiry_months) == (12, "down", 12)


def test_a_ladder_emptied_without_its_migration_data_comes_back() -> None:
    MemberLevel.objects.all().delete()
    assert [lv.name for lv in selectors.levels()] == ["普卡", "银卡", "金卡", "钻石卡"]
    assert selectors.lowest_level().name == "普卡"


# --- earning --------------------------------------------------------------------------------------------


def test_a_sale_earns_its_amount_times_the_multiplier_rounded_down(member: Customer, buy: Buy) -> None:
    sale = buy(member, "1234.56", venue="中餐厅", order_no="A001", payment="wechat")
    acc = account(member)
    assert acc.level.name == "普卡" and acc.balance == 1234
    entry = PointsEntry.objects.get()
    assert (entry.kind, entry.points, entry.balance_after, entry.consumption) == ("earn", 1234, 1234, sale)
    lot = PointsLot.objects.get()
    assert lot.entry == entry and lot.points == lot.remaining == 1234
    assert lot.expires_on == selectors.add_months(timezone.localdate(sale.occurred_at), 12)
    assert (sale.amount, sale.category, sale.venue, sale.order_no, sale.payment, sale.source) == (
        D("1234.56"),
        "dining",
        "中餐厅",
        "A001",
        "wechat",
        "manual",
    )
    row = AuditLog.objects.get(content_type__model="consumption", object_id=str(sale.pk))
    assert row.changes["points"] == 1234 and row.actor.username == "张伟"
    consistent(member)


@pytest.mark.parametrize(
    ("rule", "amount", "points"),
    [
        ("down", "100.99", 121),  # 121.188
        ("half_up", "100.99", 121),
        ("up", "100.99", 122),
        ("down", "101.25", 121),  # 121.5
        ("half_up", "101.25", 122),
        ("up", "100.00", 120),  # exact: no rule moves it
    ],
)
def test_rounding_rules(member: Customer, buy: Buy, rule: str, amount: str, points: int) -> None:
    set_rules(rounding=rule)
    services.level_set(actor=None, customer=member, level=level("银卡"), note="测试倍率 1.2")
    buy(member, amount)
    assert account(member).balance == points


def test_a_sale_too_small_to_earn_a_point_is_recorded_without_an_entry(member: Customer, buy: Buy) -> None:
    buy(member, "0.99")
    assert Consumption.objects.count() == 1
    assert not PointsEntry.objects.exists()
    assert account(member).balance == 0


def test_the_chinese_names_of_category_and_payment_are_accepted(member: Customer, buy: Buy) -> None:
    sale = buy(member, 10, category="茶酒", payment="支付宝", source="接口", operator=None)
    assert (sale.category, sale.payment, sale.source, sale.operator) == ("tea_wine", "alipay", "api", None)


def test_points_expire_from_the_day_of_the_sale(member: Customer, buy: Buy) -> None:
    then = timezone.now() - timedelta(days=40)
    buy(member, 100, occurred_at=then)
    assert PointsLot.objects.get().expires_on == selectors.add_months(timezone.localdate(then), 12)
    set_rules(expiry_months=0)
    buy(member, 100)
    assert PointsLot.objects.order_by("-id").first().expires_on is None


# --- levels ---------------------------------------------------------------------------------------------


def test_a_sale_that_crosses_a_threshold_upgrades_at_once_but_earns_at_the_old_level(
    member: Customer, buy: Buy
) -> None:
    buy(member, "49999.00")
    assert account(member).level.name == "普卡"
    buy(member, "1.00")  # net 50,000: 银卡 from now on; this sale still earns at 普卡
    acc = account(member)
    assert acc.level.name == "银卡" and acc.balance == 50000
    change = LevelChange.objects.get()
    assert (change.from_level.name, change.to_level.name, change.reason) == ("普卡", "银卡", "upgrade")
    assert change.net_amount == D("50000.00") and change.consumption is not None
    buy(member, "100.00")
    assert account(member).balance == 50120  # ×1.2
    buy(member, "1000000.00")  # straight past 金卡 to 钻石卡: one change
    assert account(member).level.name == "钻石卡"
    assert list(LevelChange.objects.values_list("to_level__name", flat=True).order_by("id")) == ["银卡", "钻石卡"]


def test_consumption_outside_the_rolling_window_does_not_count(member: Customer, buy: Buy) -> None:
    buy(member, "40000.00", occurred_at=timezone.now() - timedelta(days=400))
    buy(member, "20000.00")
    assert account(member).level.name == "普卡"
    assert selectors.rolling_net(member) == D("20000.00")
    set_rules(window_months=24)
    buy(member, "1.00")
    assert account(member).level.name == "银卡"


def test_a_refund_does_not_downgrade_the_yearly_review_does(member: Customer, buy: Buy) -> None:
    sale = buy(member, "60000.00")
    assert account(member).level.name == "银卡"
    services.consumption_refund(original=sale, amount="60000.00", source="manual")
    assert account(member).level.name == "银卡"
    done = services.level_yearly_review()
    assert done == {"skipped": False, "down": 1, "up": 0}
    acc = account(member)
    assert acc.level.name == "普卡"
    change = LevelChange.objects.latest("id")
    assert (change.reason, change.net_amount, change.from_level.name) == ("review", D("0.00"), "银卡")
    assert consistent(member) == 0


def test_the_yearly_review_runs_once_a_year_unless_forced(member: Customer, buy: Buy, people: dict) -> None:
    other = make_member(people["刘洋"], name="钱总")
    buy(member, "250000.00", occurred_at=timezone.now() - timedelta(days=300))
    buy(other, "100.00")
    services.level_set(actor=None, customer=other, level=level("金卡"), note="开业活动")
    assert account(member).level.name == "金卡"
    today = timezone.localdate()
    later = today + timedelta(days=90)  # the sale of 300 days ago has left the window by then
    done = services.level_yearly_review(today=later)
    assert (done["down"], done["up"]) == (2, 0)
    assert account(member).level.name == "普卡" and account(other).level.name == "普卡"
    again = services.level_yearly_review(today=later + timedelta(days=1))
    if later.year == (later + timedelta(days=1)).year:
        assert again["skipped"] is True
    services.level_set(actor=None, customer=member, level=level("钻石卡"), note="董事长特批")
    assert services.level_yearly_review(today=later, force=True)["down"] == 1
    assert LoyaltySettings.objects.get().last_review_on == later


def test_the_yearly_review_also_moves_up_when_the_thresholds_were_lowered(member: Customer, buy: Buy) -> None:
    buy(member, "30000.00")
    MemberLevel.objects.filter(name="银卡").update(threshold=D("20000.00"))
    assert services.level_yearly_review() == {"skipped": False, "down": 0, "up": 1}
    assert account(member).level.name == "银卡"


def test_level_set_by_hand_and_its_refusals(member: Customer, people: dict) -> None:
    admin = people["管理员"]
    change = services.level_set(actor=admin, customer=member, level=level("金卡"), note="签约贵宾")
    assert (change.reason, change.to_level.name, change.actor) == (LevelChangeReason.MANUAL, "金卡", admin)
    refused("invalid", lambda: services.level_set(actor=admin, customer=member, level=level("金卡"), note="再来"))
    refused("invalid", lambda: services.level_set(actor=admin, customer=member, level=level("银卡"), note="  "))
    refused("invalid", lambda: services.level_set(actor=admin, customer=member, level=None, note="无"))


# --- refusals of a sale ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "match"),
    [
        (0, "大于 0"),
        ("-5", "大于 0"),
        ("0.001", "两位小数"),
        ("10000000.01", "不能超过"),
        ("1e30", "不能超过"),
        ("abc", "不是数字"),
        ("NaN", "不是数字"),
        ("Infinity", "不是数字"),
        (None, "请填写金额"),
        (True, "请填写金额"),
    ],
)
def test_absurd_amounts_are_refused(member: Customer, buy: Buy, amount: Any, match: str) -> None:
    refused("invalid", lambda: buy(member, amount), match)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"category": "洗车"}, "未知的消费类别"),
        ({"category": ""}, "未知的消费类别"),
        ({"payment": "比特币"}, "未知的支付方式"),
        ({"source": "fax"}, "未知的来源"),
        ({"venue": "厅" * 101}, "消费场所不能超过 100 个字"),
        ({"order_no": "1" * 65}, "订单号不能超过 64 个字"),
        ({"note": "注" * 201}, "备注不能超过 200 个字"),
        ({"occurred_at": timezone.now() + timedelta(hours=1)}, "不能晚于现在"),
        ({"occurred_at": datetime(1999, 12, 31, 12, 0)}, "不能早于 2000 年"),
        ({"occurred_at": "2026-01-01"}, "格式不正确"),
    ],
)
def test_bad_fields_of_a_sale_are_refused(member: Customer, buy: Buy, kw: dict, match: str) -> None:
    refused("invalid", lambda: buy(member, 100, **kw), match)


def test_a_naive_time_is_read_in_the_clubs_time_zone(member: Customer, buy: Buy) -> None:
    sale = buy(member, 100, occurred_at=datetime(2025, 3, 1, 20, 30))
    assert timezone.localtime(sale.occurred_at).strftime("%Y-%m-%d %H:%M") == "2025-03-01 20:30"


@pytest.mark.parametrize("status", [CustomerStatus.REGISTERING, CustomerStatus.MERGED])
def test_only_members_consume_or_hold_points(people: dict, buy: Buy, status: str) -> None:
    someone = make_member(people["张伟"], name="未审客户", status=status)
    refused("unknown_member", lambda: buy(someone, 100), "还不是会员")
    refused("unknown_member", lambda: services.points_gift(customer=someone, points=10, reason="活动"))
    refused("unknown_member", lambda: services.points_redeem(customer=someone, points=10))
    refused("unknown_member", lambda: buy(Customer(name="无"), 100), "找不到该会员")


def test_the_same_order_number_counts_once_per_source_system(member: Customer, buy: Buy, people: dict) -> None:
    first = buy(member, 100, order_no="POS-1")
    err = refused("duplicate_order", lambda: buy(member, 100, order_no="POS-1"), "已经登记过")
    assert err.detail["consumption_id"] == first.pk and err.http_status == 409
    other = make_member(people["刘洋"])
    refused("duplicate_order", lambda: buy(other, 50, order_no="POS-1"))
    buy(member, 100, order_no="POS-1", client_key="pos-b", source="api")  # another POS's numbering
    buy(member, 100)  # no order number: never a duplicate
    buy(member, 100)
    assert Consumption.objects.count() == 4


def test_an_order_a_pos_posted_is_refused_by_hand_but_a_pos_keeps_its_own_numbering(
    member: Customer, buy: Buy, people: dict
) -> None:
    from crm.core.models import ApiClient

    pos = ApiClient.objects.create(name="前台 POS", key_prefix="p1", key_hash="x")
    posted = buy(member, 100, order_no="P-0001", client_key=f"api:{pos.pk}", source="api")
    err = refused("duplicate_order", lambda: buy(member, 100, order_no="P-0001"), "已由收银系统「前台 POS」上传过")
    assert err.detail["consumption_id"] == posted.pk
    buy(member, 100, order_no="M-0001")  # by hand first: the POS numbers its own orders and is not refused
    buy(member, 100, order_no="M-0001", client_key=f"api:{pos.pk}", source="api")
    assert Consumption.objects.filter(order_no="M-0001").count() == 2


# --- refunds --------------------------------------------------------------------------------------------


def test_a_full_refund_reverses_exactly_what_the_sale_earned(member: Customer, buy: Buy) -> None:
    sale = buy(member, "999.99")
    buy(member, "50.00")
    refund = services.consumption_refund(original=sale, amount="999.99", source="manual", order_no="R-1")
    assert refund.amount == D("-999.99") and refund.refund_of == sale and refund.category == sale.category
    reversal = PointsEntry.objects.get(kind=EntryKind.REVERSAL)
    earn = PointsEntry.objects.get(kind=EntryKind.EARN, consumption=sale)
    assert (reversal.points, reversal.reverses, reversal.consumption) == (-999, earn, refund)
    # the sale's own lot first
    assert list(PointsLotUse.objects.filter(entry=reversal).values_list("lot__entry", "points")) == [(earn.pk, 999)]
    assert consistent(member) == 50
    assert selectors.refundable_amount(sale) == 0
    refused("invalid", lambda: services.consumption_refund(original=sale, amount="0.01", source="manual"), "已全部退款")


def test_partial_refunds_reverse_in_proportion_and_never_more_than_earned(member: Customer, buy: Buy) -> None:
    sale = buy(member, "100.00")  # 100 points
    buy(member, "1000.00")
    amounts = ["33.33", "33.33", "33.34"]
    reversed_each = []
    for amount in amounts:
        services.consumption_refund(original=sale, amount=amount, source="manual")
        reversed_each.append(PointsEntry.objects.filter(kind=EntryKind.REVERSAL).latest("id").points)
    assert reversed_each == [-33, -33, -34]  # floor(100×33.33/100)=33, floor(100×66.66/100)=66 → 33, the rest 34
    assert sum(reversed_each) == -100
    assert consistent(member) == 1000


def test_a_refund_too_small_to_reverse_a_point_writes_no_entry(member: Customer, buy: Buy) -> None:
    sale = buy(member, "10.00")
    services.consumption_refund(original=sale, amount="0.05", source="manual")
    assert not PointsEntry.objects.filter(kind=EntryKind.REVERSAL).exists()
    assert consistent(member) == 10


def test_refund_refusals(member: Customer, buy: Buy) -> None:
    sale = buy(member, "100.00")
    refund = services.consumption_refund(original=sale, amount="10.00", source="manual", order_no="R-9")

    def call(**kw: Any) -> Callable[[], Any]:
        args = {"original": sale, "amount": "1.00", "source": "manual", **kw}
        return lambda: services.consumption_refund(**args)

    refused("invalid", call(amount="90.01"), "超过了这笔消费尚可退的 90.00 元")
    refused("invalid", call(amount="-1"), "大于 0")
    refused("invalid", call(original=refund), "这是一条退款记录")
    refused("invalid", call(original=None), "请选择要退款的消费记录")
    refused("invalid", call(original=Consumption(pk=987654)), "不存在")
    refused("invalid", call(source="?"), "未知的来源")
    refused("duplicate_order", call(order_no="R-9"))
    refused("invalid", call(occurred_at=sale.occurred_at - timedelta(minutes=1)), "不能早于原消费时间")


def test_a_refund_is_refused_when_the_earned_points_were_spent(member: Customer, buy: Buy) -> None:
    """The rule for a refund after spending: the reversal must be covered by the balance, or nothing happens."""
    sale = buy(member, "1000.00")
    services.points_redeem(customer=member, points=950)
    err = refused(
        "insufficient_points",
        lambda: services.consumption_refund(original=sale, amount="1000.00", source="manual"),
        "现有积分 50,不足以扣回这次退款应扣回的 1,000 积分(还差 950),退款未登记",
    )
    assert err.http_status == 409 and err.detail == {"balance": 50, "points": 1000}
    # a partial refund whose reversal the balance covers still goes through
    services.consumption_refund(original=sale, amount="50.00", source="manual")
    assert consistent(member) == 0
    # the way out: an approved adjustment credits the shortfall, then the refund goes through
    services.points_adjust(customer=member, points=950, reason="退款前补足已兑换的积分", actor=None)
    services.consumption_refund(original=sale, amount="950.00", source="manual")
    assert consistent(member) == 0
    assert selectors.reversed_points(selectors.earn_entry(sale)) == 1000


def test_a_refund_refused_for_lack_of_points_says_what_the_refunder_can_do(
    member: Customer, buy: Buy, people: dict[str, Any]
) -> None:
    """Who may apply for a 积分调整 is told to; anyone else (the front desk, a POS) whom to ask: the member's owner."""
    sale = buy(member, "1000.00")
    services.points_redeem(customer=member, points=950)

    def refund(operator: Any) -> str:
        call = partial(services.consumption_refund, original=sale, amount="1000.00", source="manual", operator=operator)
        return str(refused("insufficient_points", call).messages[0])

    assert people["张伟"].has_perm("loyalty.add_pointsadjustment")
    assert refund(people["张伟"]).endswith("退款未登记;请先申请积分调整补足差额后再退款。")
    assert not people["吴芳"].has_perm("loyalty.add_pointsadjustment")
    to_owner = "退款未登记;请联系该会员的负责人「张伟」申请积分调整补足差额后再退款。"
    assert refund(people["吴芳"]).endswith(to_owner)
    assert refund(None).endswith(to_owner)  # the POS
    # the other 张伟's member: named by his login name, so that the front desk asks the right one
    Customer.objects.filter(pk=member.pk).update(owner=people["张伟(销售二组)"])
    assert refund(people["吴芳"]).endswith("请联系该会员的负责人「张伟(销售二组)」申请积分调整补足差额后再退款。")
    assert "现有积分 50,不足以扣回这次退款应扣回的 1,000 积分(还差 950)" in refund(people["吴芳"])
    Customer.objects.filter(pk=member.pk).update(owner=None)
    assert refund(people["吴芳"]).endswith("退款未登记;请联系有权申请积分调整的同事补足差额后再退款。")


def test_a_refund_of_a_sale_that_earned_nothing_needs_no_points(member: Customer, buy: Buy) -> None:
    sale = buy(member, "0.50")
    services.consumption_refund(original=sale, amount="0.50", source="manual")
    assert Consumption.objects.count() == 2 and not PointsEntry.objects.exists()


# --- redemption, gifts, adjustments ---------------------------------------------------------------------


def test_redeeming_takes_the_oldest_points_first(member: Customer, buy: Buy) -> None:
    now = timezone.now()
    old = buy(member, 100, occurred_at=now - timedelta(days=200))
    newer = buy(member, 100, occurred_at=now - timedelta(days=10))
    oldest = buy(member, 100, occurred_at=now - timedelta(days=300))  # recorded last, earned first
    entry = services.points_redeem(customer=member, points=150, reason="兑换红酒", operator=None)
    assert (entry.kind, entry.points, entry.balance_after) == ("redeem", -150, 150)
    remaining = {c.pk: PointsLot.objects.get(entry__consumption=c).remaining for c in (oldest, old, newer)}
    assert remaining == {oldest.pk: 0, old.pk: 50, newer.pk: 100}
    assert consistent(member) == 150


def test_redeeming_more_than_the_balance_is_refused(member: Customer, buy: Buy) -> None:
    buy(member, 100)
    err = refused(
        "insufficient_points",
        lambda: services.points_redeem(customer=member, points=101),
        "积分不足:会员「孙总」现有积分 100,不够兑换 101 积分(还差 1)。",
    )
    assert err.detail == {"balance": 100, "points": 101}
    services.points_redeem(customer=member, points=100)
    assert consistent(member) == 0


def test_a_member_without_an_account_has_nothing_to_redeem(member: Customer) -> None:
    assert selectors.balance(member) == 0 and selectors.level_of(member).name == "普卡"
    with pytest.raises(LoyaltyError) as info:
        services.points_redeem(customer=member, points=1)
    assert info.value.code == "insufficient_points"


@pytest.mark.parametrize(
    ("points", "match"),
    [(0, "大于 0"), (-5, "大于 0"), (1.5, "整数"), ("abc", "整数"), (True, "整数"), (10**9, "不能超过")],
)
def test_bad_points_are_refused(member: Customer, buy: Buy, points: Any, match: str) -> None:
    buy(member, 1000)
    refused("invalid", lambda: services.points_redeem(customer=member, points=points), match)
    refused("invalid", lambda: services.points_gift(customer=member, points=points, reason="活动"), match)


def test_a_gift_credits_points_that_expire_like_earned_ones(member: Customer, people: dict) -> None:
    entry = services.points_gift(
        customer=member, points="500", reason="生日礼遇", source_ref="application:7", actor=people["黄敏"]
    )
    assert (entry.kind, entry.points, entry.source_ref) == ("gift", 500, "application:7")
    assert entry.created_by == people["黄敏"]
    assert entry.lot.expires_on == selectors.add_months(timezone.localdate(), 12)
    assert consistent(member) == 500
    refused("invalid", lambda: services.points_gift(customer=member, points=1, reason=" "), "请填写赠送原因")
    refused("invalid", lambda: services.points_gift(customer=member, points=1, reason="x", source_ref="x" * 51))


def test_adjustments_both_ways(member: Customer, people: dict) -> None:
    up = services.points_adjust(customer=member, points=300, reason="补录开业前消费", actor=people["李明"])
    down = services.points_adjust(customer=member, points=-120, reason="重复补录", actor=people["李明"])
    assert (up.kind, up.points, down.kind, down.points) == ("adjust", 300, "adjust", -120)
    assert consistent(member) == 180
    refused("insufficient_points", lambda: services.points_adjust(customer=member, points=-181, reason="多扣"))
    refused("invalid", lambda: services.points_adjust(customer=member, points=0, reason="零"), "不能为 0")
    refused("invalid", lambda: services.points_adjust(customer=member, points=5, reason=""), "请填写调整原因")


# --- expiry ---------------------------------------------------------------------------------------------


def test_expiry_takes_what_is_left_of_the_oldest_lots_once(member: Customer, buy: Buy, people: dict) -> None:
    now = timezone.now()
    a = buy(member, 100, occurred_at=now - timedelta(days=500))
    b = buy(member, 200, occurred_at=now - timedelta(days=380))
    c = buy(member, 300, occurred_at=now - timedelta(days=100))
    other = make_member(people["刘洋"])
    buy(other, 70, occurred_at=now - timedelta(days=400))
    # lazy: the redemption expires a and b first, then takes from c
    services.points_redeem(customer=member, points=50)
    assert {x.pk: PointsLot.objects.get(entry__consumption=x).remaining for x in (a, b, c)} == {
        a.pk: 0,
        b.pk: 0,
        c.pk: 250,
    }
    expire = PointsEntry.objects.get(kind=EntryKind.EXPIRE, account__customer=member)
    assert expire.points == -300 and expire.created_at <= PointsEntry.objects.get(kind="redeem").created_at
    # the daily run: the other member's points, one entry per account, nothing twice
    assert services.points_expire() == {"accounts": 1, "points": 70}
    assert services.points_expire() == {"accounts": 0, "points": 0}
    assert PointsEntry.objects.filter(kind=EntryKind.EXPIRE).count() == 2
    assert consistent(member) == 250 and consistent(other) == 0
    # a year on, c goes too
    c_day = PointsLot.objects.get(entry__consumption=c).expires_on
    assert c_day is not None
    assert services.points_expire(today=c_day - timedelta(days=1)) == {"accounts": 0, "points": 0}
    assert services.points_expire(today=c_day) == {"accounts": 1, "points": 250}
    assert consistent(member) == 0


def test_expiry_after_partial_use_takes_only_what_is_left(member: Customer, buy: Buy) -> None:
    now = timezone.now()
    buy(member, 100, occurred_at=now - timedelta(days=300))
    buy(member, 100, occurred_at=now - timedelta(days=200))
    services.points_redeem(customer=member, points=130)  # 100 from the first lot, 30 from the second
    first_day = selectors.add_months(timezone.localdate(now - timedelta(days=300)), 12)
    second_day = selectors.add_months(timezone.localdate(now - timedelta(days=200)), 12)
    assert services.points_expire(today=first_day) == {"accounts": 0, "points": 0}  # nothing left of it
    assert services.points_expire(today=second_day) == {"accounts": 1, "points": 70}
    assert consistent(member) == 0


def test_expiring_soon(member: Customer, buy: Buy) -> None:
    now = timezone.now()
    today = timezone.localdate()
    buy(member, 100, occurred_at=now - timedelta(days=360))  # expires in about 5 days
    buy(member, 200, occurred_at=now - timedelta(days=300))  # in about 65 days
    buy(member, 400)
    soon = selectors.expiring(member, days=30)
    assert soon.total == 100 and len(soon.by_date) == 1 and soon.by_date[0][0] > today
    assert selectors.expiring(member, days=90).total == 300
    assert selectors.expiring(member, days=90, today=today + timedelta(days=400)).total == 700


# --- rules (系统管理 › 积分规则) ------------------------------------------------------------------------


def test_the_rules_are_changed_through_the_service_and_audited(people: dict) -> None:
    admin = people["管理员"]
    rules = services.settings_update(actor=admin, window_months="24", rounding="half_up", expiry_months=0)
    assert (rules.window_months, rules.rounding, rules.expiry_months) == (24, "half_up", 0)
    row = AuditLog.objects.filter(object_repr="积分规则").latest("id")
    assert row.changes == {"window_months": [12, 24], "rounding": ["down", "half_up"], "expiry_months": [12, 0]}
    for kw, match in [
        ({"window_months": 0}, "1 到 60"),
        ({"window_months": "x"}, "整数"),
        ({"expiry_months": 121}, "0 到 120"),
        ({"rounding": "sideways"}, "未知的积分取整方式"),
    ]:
        args = {"actor": admin, "window_months": 12, "rounding": "down", "expiry_months": 12, **kw}
        refused("invalid", lambda args=args: services.settings_update(**args), match)


def test_levels_stay_a_ladder(people: dict) -> None:
    admin = people["管理员"]
    platinum = services.level_save(actor=admin, name="白金卡", rank=5, threshold="3000000", multiplier="2.5")
    assert [lv.name for lv in selectors.levels()][-1] == "白金卡"
    services.level_save(actor=admin, level=level("银卡"), name="银卡", rank=1, threshold="80000", multiplier="1.3")
    assert level("银卡").threshold == D("80000.00")
    assert AuditLog.objects.filter(content_type__model="memberlevel", object_id=str(platinum.pk)).exists()
    silver = level("银卡")
    for kw, match in [
        ({"threshold": "500000"}, "必须高于「银卡」"),  # above 金卡's
        ({"rank": 2}, "已有级别为 2"),
        ({"name": "金卡"}, "已有名为「金卡」"),
        ({"multiplier": "101"}, "0 到 100"),
        ({"multiplier": "1.234"}, "两位小数"),
        ({"threshold": "-1"}, "不小于 0"),
        ({"threshold": "abc"}, "必须是数字"),
        ({"name": ""}, "请填写等级名称"),
        ({"rank": "x"}, "整数"),
        ({"rank": 101}, "0 到 100"),
    ]:
        args: dict[str, Any] = {
            "actor": admin,
            "level": silver,
            "name": "银卡",
            "rank": 1,
            "threshold": "80000",
            "multiplier": "1.3",
            **kw,
        }
        refused("invalid", lambda args=args: services.level_save(**args), match)
    refused(
        "invalid",
        lambda: services.level_save(actor=admin, level=level("普卡"), name="普卡", rank=0, threshold=1, multiplier=1),
        "最低的会员等级升级门槛必须是 0",
    )


def test_dates_move_by_whole_months() -> None:
    assert selectors.add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert selectors.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert selectors.add_months(date(2025, 3, 15), -12) == date(2024, 3, 15)
    assert selectors.add_months(date(2025, 1, 10), -1) == date(2024, 12, 10)
    assert selectors.expiry_date(date(2025, 5, 5), 0) is None
    assert selectors.qualifying_level(Decimal("-10"), selectors.levels()).name == "普卡"


def test_a_redemption_spanning_hundreds_of_lots_takes_them_in_order(member: Customer) -> None:
    for _ in range(230):
        services.points_gift(customer=member, points=2, reason="签到")
    services.points_redeem(customer=member, points=455)  # 227 lots and half of the 228th
    remaining = list(PointsLot.objects.order_by("id").values_list("remaining", flat=True))
    assert remaining == [0] * 227 + [1, 2, 2]
    assert consistent(member) == 5
