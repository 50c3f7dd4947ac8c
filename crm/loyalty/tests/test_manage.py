"""系统管理 › 积分规则, 消费录入 and 退款: the services behind the pages and the pages themselves, with every refusal
a sentence that leaves nothing written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from crm.accounts.models import Role
from crm.core.models import AuditLog
from crm.core.tests.test_robustness import NASTY
from crm.customers.models import Customer, CustomerStatus
from crm.loyalty import services
from crm.loyalty.errors import LoyaltyError
from crm.loyalty.models import (
    Consumption,
    LevelChange,
    LoyaltySettings,
    MemberLevel,
    PointsAccount,
    PointsEntry,
    PointsLot,
)

from .conftest import D, make_member

pytestmark = pytest.mark.django_db

RULES = {"window_months": 12, "rounding": "down", "expiry_months": 12}


def ladder() -> list[tuple[str, int, str, str]]:
    return [(lv.name, lv.rank, str(lv.threshold), str(lv.multiplier)) for lv in MemberLevel.objects.order_by("rank")]


def lv(name: str) -> MemberLevel:
    return MemberLevel.objects.get(name=name)


def row(level: MemberLevel, **kw: Any) -> tuple[MemberLevel, dict[str, Any]]:
    fields = {"name": level.name, "rank": level.rank, "threshold": level.threshold, "multiplier": level.multiplier}
    return level, {**fields, **kw}


def written() -> tuple[Any, ...]:
    rules = LoyaltySettings.objects.get(pk=1)
    return (ladder(), rules.window_months, rules.rounding, rules.expiry_months, AuditLog.objects.count())


# --- the service: rules_update -----------------------------------------------------------------------


def test_several_thresholds_move_in_one_save(people: dict[str, Any]) -> None:
    admin = people["管理员"]
    # 银卡 above 金卡's old threshold: only right once 金卡 has moved too
    services.rules_update(
        actor=admin,
        **RULES,
        levels=[row(lv("银卡"), threshold="250000"), row(lv("金卡"), threshold="300000")],
    )
    assert [t for _n, _r, t, _m in ladder()] == ["0.00", "250000.00", "300000.00", "1000000.00"]
    changes = AuditLog.objects.filter(content_type__model="memberlevel").values_list("changes", flat=True)
    assert {"threshold": ["50000.00", "250000.00"]} in list(changes)


def test_a_level_is_inserted_and_the_ranks_above_move_up(people: dict[str, Any]) -> None:
    admin = people["管理员"]
    services.rules_update(
        actor=admin,
        **RULES,
        levels=[
            row(lv("金卡"), rank=3),
            row(lv("钻石卡"), rank=4),
            (None, {"name": "白银卡", "rank": 2, "threshold": "100000", "multiplier": "1.3"}),
        ],
    )
    assert [n for n, *_ in ladder()] == ["普卡", "银卡", "白银卡", "金卡", "钻石卡"]
    assert [r for _n, r, *_ in ladder()] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("levels", "delete", "message"),
    [
        (lambda: [row(lv("银卡"), rank=2), row(lv("金卡"), rank=1)], [], "不能在一次保存中互换"),
        (lambda: [row(lv("银卡"), rank=2)], [], "已有级别为 2 的会员等级"),
        (lambda: [row(lv("银卡"), name="金卡")], [], "已有名为「金卡」的会员等级"),
        (lambda: [row(lv("银卡"), multiplier="0")], [], "「银卡」的积分倍率必须大于 0"),
        (lambda: [row(lv("银卡"), multiplier="-1.5")], [], "「银卡」的积分倍率必须大于 0"),
        (lambda: [row(lv("银卡"), threshold="300000")], [], "「金卡」的升级门槛必须高于「银卡」的"),
        (lambda: [row(lv("普卡"), threshold="10")], [], "最低的会员等级升级门槛必须是 0"),
        (lambda: [(None, {"name": "", "rank": 9, "threshold": 1, "multiplier": 1})], [], "请填写等级名称"),
        (lambda: [], lambda: list(MemberLevel.objects.all()), "至少要保留一个会员等级"),
        (lambda: [], lambda: [lv("普卡")], "最低的会员等级升级门槛必须是 0"),
    ],
)
def test_a_save_that_breaks_the_ladder_is_refused_whole(
    people: dict[str, Any], levels: Any, delete: Any, message: str
) -> None:
    before = written()
    with pytest.raises(LoyaltyError, match=message):
        services.rules_update(
            actor=people["管理员"],
            window_months=24,
            rounding="up",
            expiry_months=6,
            levels=levels(),
            delete=delete() if callable(delete) else delete,
        )
    assert written() == before


def test_a_level_members_hold_or_held_is_not_deleted(people: dict[str, Any], buy: Any) -> None:
    admin = people["管理员"]
    member = make_member(people["张伟"])
    buy(member, "60000")  # 普卡 → 银卡
    assert PointsAccount.objects.get(customer=member).level.name == "银卡"
    with pytest.raises(LoyaltyError, match="「银卡」现有 1 位会员,不能删除"):
        services.rules_update(actor=admin, **RULES, levels=[], delete=[lv("银卡")])
    with pytest.raises(LoyaltyError, match="「普卡」出现在会员的等级变动记录中,不能删除"):
        services.rules_update(
            actor=admin, **RULES, levels=[row(lv("银卡"), threshold="0"), row(lv("金卡"))], delete=[lv("普卡")]
        )
    assert LevelChange.objects.count() == 1 and MemberLevel.objects.count() == 4
    # a level nobody holds or held goes, audited
    services.rules_update(actor=admin, **RULES, levels=[], delete=[lv("钻石卡")])
    assert [n for n, *_ in ladder()] == ["普卡", "银卡", "金卡"]
    gone = AuditLog.objects.filter(content_type__model="memberlevel", action="delete").get()
    assert gone.changes["name"] == ["钻石卡", None]


def test_the_rules_and_a_multiplier_with_two_decimals(people: dict[str, Any]) -> None:
    services.rules_update(
        actor=people["管理员"],
        window_months="24",
        rounding="half_up",
        expiry_months="0",
        levels=[row(lv("金卡"), multiplier="1.75")],
    )
    rules = LoyaltySettings.objects.get(pk=1)
    assert (rules.window_months, rules.rounding, rules.expiry_months) == (24, "half_up", 0)
    assert lv("金卡").multiplier == Decimal("1.75")


# --- 系统管理 › 积分规则 -------------------------------------------------------------------------------

RULES_URL = "loyalty:rules"


def rules_post(**changes: Any) -> dict[str, Any]:
    """The page's form as it comes (the rules and every level, one empty row), with ``changes`` applied:
    ``levels-N-field`` keys, ``new`` for the empty row, and the rule fields."""
    levels = list(MemberLevel.objects.order_by("rank"))
    rules = LoyaltySettings.objects.get(pk=1)
    data: dict[str, Any] = {
        "window_months": rules.window_months,
        "rounding": rules.rounding,
        "expiry_months": rules.expiry_months,
        "levels-TOTAL_FORMS": len(levels) + 1,
        "levels-INITIAL_FORMS": len(levels),
        "levels-MIN_NUM_FORMS": 0,
        "levels-MAX_NUM_FORMS": 30,
    }
    for i, level in enumerate(levels):
        data.update(
            {
                f"levels-{i}-id": level.pk,
                f"levels-{i}-name": level.name,
                f"levels-{i}-rank": level.rank,
                f"levels-{i}-threshold": level.threshold,
                f"levels-{i}-multiplier": level.multiplier,
            }
        )
    for key, value in changes.pop("new", {}).items():
        data[f"levels-{len(levels)}-{key}"] = value
    data.update(changes)
    return data


def test_the_rules_page_saves_the_rules_and_levels_at_once(client_for: Any) -> None:
    admin = client_for("管理员")
    page = admin.get(reverse(RULES_URL))
    assert page.status_code == 200
    body = page.content.decode()
    assert "积分规则" in body and "钻石卡" in body and "等级统计周期(月)" in body
    # 银卡 above 金卡's old threshold, 金卡 moved up too, a new level on top, a new window
    data = rules_post(
        window_months=24,
        **{"levels-1-threshold": "250000", "levels-2-threshold": "300000"},
        new={"name": "黑金卡", "rank": 9, "threshold": "5000000", "multiplier": "3"},
    )
    r = admin.post(reverse(RULES_URL), data)
    assert r.status_code == 200, r.content.decode()
    assert "积分规则已保存" in r.content.decode()
    assert [t for _n, _r, t, _m in ladder()] == ["0.00", "250000.00", "300000.00", "1000000.00", "5000000.00"]
    assert LoyaltySettings.objects.get(pk=1).window_months == 24
    assert AuditLog.objects.filter(content_type__model="memberlevel", action="create").count() == 1
    # deleting the new level
    r = admin.post(reverse(RULES_URL), rules_post(**{"levels-4-DELETE": "on"}))
    assert r.status_code == 200 and "黑金卡" not in [n for n, *_ in ladder()]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"levels-1-multiplier": "0"}, "积分倍率必须大于 0"),
        ({"levels-1-multiplier": "-1"}, "积分倍率必须大于 0"),
        ({"levels-1-threshold": "300000"}, "「金卡」的升级门槛必须高于「银卡」的"),
        ({"levels-0-threshold": "5"}, "最低的会员等级升级门槛必须是 0"),
        ({"levels-1-rank": "2"}, "已有级别为 2 的会员等级"),
        ({"levels-1-rank": "abc"}, "级别必须是整数"),
        ({"levels-1-name": ""}, "请填写等级名称"),
        ({"levels-1-threshold": "1e400"}, "升级门槛"),
        ({"window_months": "0"}, "1 到 60"),
        ({"window_months": "-1"}, "等级统计周期(月)必须在 1 到 60 之间。"),
        ({"expiry_months": "-1"}, "积分有效期(月)必须在 0 到 120 之间。"),
        ({"expiry_months": "999"}, "0 到 120"),
        ({"rounding": "sideways"}, "「sideways」不是可选的项,请重新选择"),
        ({"levels-1-id": "999999"}, "已被删除"),
        ({"new": {"name": "白金卡", "rank": 5}}, "请填写升级门槛"),
    ],
)
def test_bad_rules_are_refused_with_a_sentence_and_nothing_written(
    client_for: Any, changes: dict[str, Any], message: str
) -> None:
    before = written()
    r = client_for("管理员").post(reverse(RULES_URL), rules_post(**changes))
    assert r.status_code == 422
    assert message in r.content.decode()
    assert written() == before


def test_a_level_members_hold_is_not_deleted_on_the_page(client_for: Any, people: dict[str, Any], buy: Any) -> None:
    buy(make_member(people["张伟"]), "100")  # a 普卡 member: the account holds 普卡
    before = written()
    r = client_for("管理员").post(reverse(RULES_URL), rules_post(**{"levels-0-DELETE": "on"}))
    assert r.status_code == 422 and "「普卡」现有 1 位会员,不能删除" in r.content.decode()
    assert written() == before


def test_who_may_see_and_change_the_rules(client_for: Any, people: dict[str, Any]) -> None:
    assert client_for("张伟").get(reverse(RULES_URL)).status_code == 403
    ceo = Role.objects.get(name="总经理")
    ceo.permissions.add(Permission.objects.get(codename="view_loyaltysettings"))
    zhao = client_for("赵志刚")
    r = zhao.get(reverse(RULES_URL))
    assert r.status_code == 200 and "保存</button>" not in r.content.decode()
    before = written()
    r = zhao.post(reverse(RULES_URL), rules_post(window_months=24))
    assert r.status_code == 403 and "您没有修改积分规则的权限" in r.content.decode()
    assert written() == before
    # in the menu under 系统管理 for the administrator, not for a rep
    assert reverse(RULES_URL) in client_for("管理员").get(reverse("core:home")).content.decode()
    assert reverse(RULES_URL) not in client_for("张伟").get(reverse("core:home")).content.decode()


# --- 消费录入 -------------------------------------------------------------------------------------------

NEW = "loyalty:consumption_create"


def sale(member: Customer, /, **kw: Any) -> dict[str, Any]:
    data = {
        "customer": member.card_no,
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "amount": "1280.50",
        "category": "dining",
        "venue": "中餐厅",
        "order_no": "",
        "payment": "card",
        "note": "",
    }
    return {**data, **kw}


def ledger_rows() -> tuple[int, ...]:
    return (
        Consumption.objects.count(),
        PointsEntry.objects.count(),
        PointsLot.objects.count(),
        sum(PointsAccount.objects.values_list("balance", flat=True)),
    )


def test_the_cashier_enters_a_sale_by_card_number_or_mobile(client_for: Any, people: dict[str, Any]) -> None:
    member = make_member(people["杨帆"], name="钱总")  # any member: the cashier reaches all of them
    wu = client_for("吴芳")
    page = wu.get(reverse(NEW))
    assert page.status_code == 200 and "消费录入" in page.content.decode()
    r = wu.post(reverse(NEW), sale(member, order_no="A-1"))
    assert r.status_code == 200, r.content.decode()
    body = r.content.decode()
    assert "已登记「钱总」消费 1,280.50 元,积分 +1,280,现有积分 1,280" in body
    record = Consumption.objects.get(order_no="A-1")
    assert (record.source, record.operator, record.category, record.payment, record.venue) == (
        "manual",
        people["吴芳"],
        "dining",
        "card",
        "中餐厅",
    )
    assert reverse("loyalty:consumption_detail", args=[record.pk]) in body
    # by mobile, a sale that lifts the member to 银卡
    r = wu.post(reverse(NEW), sale(member, customer=member.mobile, amount="60000", category="room"))
    assert r.status_code == 200 and "会员等级升为「银卡」" in r.content.decode()
    assert PointsAccount.objects.get(customer=member).balance == 1280 + 60000
    assert AuditLog.objects.filter(content_type__model="consumption", action="create").count() == 2
    # typed as the API and the list search read them: a card number in lower case, a mobile with dashes
    m = member.mobile
    for typed in (member.card_no.lower(), f"{m[:3]}-{m[3:7]}-{m[7:]}", f"+86 {m}"):
        r = wu.post(reverse(NEW), sale(member, customer=typed, amount="10"))
        assert r.status_code == 200 and "已登记「钱总」消费 10.00 元" in r.content.decode(), typed


def test_an_order_the_pos_posted_is_not_entered_again_by_hand(client_for: Any, people: dict[str, Any]) -> None:
    from crm.core.models import ApiClient

    member = make_member(people["杨帆"], name="钱总")
    pos = ApiClient.objects.create(name="前台 POS", key_prefix="p1", key_hash="x")
    services.consumption_record(
        customer=member, amount="100", category="dining", source="api", order_no="P-0001", client_key=f"api:{pos.pk}"
    )
    r = client_for("吴芳").post(reverse(NEW), sale(member, order_no="P-0001"))
    assert r.status_code == 422
    assert "订单号「P-0001」已由收银系统「前台 POS」上传过,同一笔订单只计一次。" in r.content.decode()
    assert Consumption.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"customer": "NOSUCHCARD"}, "找不到会员卡号或手机号为「NOSUCHCARD」的会员"),
        ({"customer": ""}, "请输入会员卡号或手机号"),
        ({"amount": "-5"}, "金额必须大于 0"),
        ({"amount": "0"}, "金额必须大于 0"),
        ({"amount": "1.234"}, "金额最多保留两位小数"),
        ({"amount": "abc"}, "请输入金额"),
        ({"amount": "10000000.01"}, "金额不能超过 10,000,000 元"),
        ({"category": "sauna"}, "请从列表中选择消费类别"),
        ({"category": ""}, "请选择消费类别"),
        ({"payment": "bitcoin"}, "请从列表中选择支付方式"),
        ({"occurred_at": "2026-02-30T10:00"}, "请输入正确的日期和时间"),
        ({"occurred_at": "2099-01-01T10:00"}, "消费时间不能晚于现在"),
        ({"occurred_at": "1999-12-31T10:00"}, "消费时间不能早于 2000 年"),
        ({"order_no": "X" * 65}, "64"),
        ({"order_no": "OLD-1"}, "订单号「OLD-1」已经登记过"),
    ],
)
def test_a_bad_sale_is_refused_with_a_sentence_and_nothing_written(
    client_for: Any, people: dict[str, Any], buy: Any, changes: dict[str, Any], message: str
) -> None:
    member = make_member(people["张伟"])
    buy(member, "100", order_no="OLD-1")
    before = ledger_rows()
    r = client_for("吴芳").post(reverse(NEW), sale(member, **changes))
    assert r.status_code == 422
    assert message in r.content.decode()
    assert ledger_rows() == before


def test_entry_reaches_only_members_in_the_users_scope(client_for: Any, people: dict[str, Any]) -> None:
    assert client_for("张伟").get(reverse(NEW)).status_code == 403  # a rep enters no sales in the demo
    Role.objects.get(name="业务员").permissions.add(Permission.objects.get(codename="add_consumption"))
    others = make_member(people["杨帆"], name="别组会员")
    reviewing = make_member(people["张伟"], name="审核中", status=CustomerStatus.REGISTERING)
    zhang = client_for("张伟")
    for typed in (others.card_no, others.mobile, reviewing.mobile):
        r = zhang.post(reverse(NEW), sale(others, customer=typed))
        assert r.status_code == 422 and "不在您的数据权限范围内" in r.content.decode()
    assert not Consumption.objects.exists()
    mine = make_member(people["张伟"], name="本人会员")
    assert zhang.post(reverse(NEW), sale(mine)).status_code == 200


# --- 【退款】 -------------------------------------------------------------------------------------------

REFUND = "loyalty:consumption_refund"


def refund(**kw: Any) -> dict[str, Any]:
    return {"amount": "100", "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "order_no": "", **kw}


def test_a_sale_is_refunded_in_part_then_in_full(client_for: Any, people: dict[str, Any], buy: Any) -> None:
    member = make_member(people["张伟"])
    original = buy(member, "1000", order_no="S-1")
    wu = client_for("吴芳")
    page = wu.get(reverse(REFUND, args=[original.pk]))
    assert page.status_code == 200 and "1,000.00 元" in page.content.decode()
    r = wu.post(reverse(REFUND, args=[original.pk]), refund(amount="400", order_no="R-1", note="菜品问题"))
    assert r.status_code == 200, r.content.decode()
    assert "已登记退款 400.00 元,扣回积分 400" in r.content.decode()
    # the form is ready for the next refund: what is left, and now
    now = timezone.localtime().strftime("%Y-%m-%dT%H:")
    assert 'value="600.00"' in r.content.decode() and f'value="{now}' in r.content.decode()
    r = wu.post(reverse(REFUND, args=[original.pk]), refund(amount="600"))
    assert r.status_code == 200 and "这笔消费已全部退款" in r.content.decode()
    assert PointsAccount.objects.get(customer=member).balance == 0
    first = Consumption.objects.get(order_no="R-1")
    assert (first.amount, first.refund_of, first.source, first.operator, first.note) == (
        D("-400.00"),
        original,
        "manual",
        people["吴芳"],
        "菜品问题",
    )


def test_a_bad_refund_is_refused_with_a_sentence_and_nothing_written(
    client_for: Any, people: dict[str, Any], buy: Any
) -> None:
    member = make_member(people["张伟"])
    original = buy(member, "1000", order_no="S-2")
    buy(member, "50", order_no="S-3")
    services.points_redeem(customer=member, points=900)
    wu = client_for("吴芳")
    url = reverse(REFUND, args=[original.pk])
    for changes, message in [
        ({"amount": "1000.01"}, "超过了这笔消费尚可退的 1,000.00 元"),
        ({"amount": "-1"}, "金额必须大于 0"),
        ({"amount": ""}, "请填写金额"),
        ({"occurred_at": "2000-01-01T00:00"}, "退款时间不能早于原消费时间"),
        ({"occurred_at": "2099-01-01T10:00"}, "退款时间不能晚于现在"),
        ({"amount": "1000"}, "不足以扣回这次退款应扣回的 1,000 积分"),  # 150 points left
    ]:
        before = ledger_rows()
        r = wu.post(url, refund(**changes))
        assert r.status_code == 422, changes
        assert message in r.content.decode(), changes
        assert ledger_rows() == before
    # a refund is not refunded again
    partial = services.consumption_refund(original=original, amount="100", source="manual")
    r = wu.get(reverse(REFUND, args=[partial.pk]))
    assert r.status_code == 200 and "这是一条退款记录,不能再退款" in r.content.decode()
    before = ledger_rows()
    r = wu.post(reverse(REFUND, args=[partial.pk]), refund(amount="1"))
    assert r.status_code == 422 and ledger_rows() == before


def test_refunds_reach_only_sales_in_the_users_scope(client_for: Any, people: dict[str, Any], buy: Any) -> None:
    theirs = buy(make_member(people["杨帆"]), "100")
    assert client_for("张伟").get(reverse(REFUND, args=[theirs.pk])).status_code == 403
    Role.objects.get(name="业务员").permissions.add(Permission.objects.get(codename="refund_consumption"))
    zhang = client_for("张伟")
    assert zhang.get(reverse(REFUND, args=[theirs.pk])).status_code == 404
    assert zhang.post(reverse(REFUND, args=[theirs.pk]), refund()).status_code == 404
    assert not Consumption.objects.filter(refund_of=theirs).exists()


# --- menu and buttons -----------------------------------------------------------------------------------


def test_the_cashier_sees_entry_and_import_in_the_menu(client_for: Any) -> None:
    home = client_for("吴芳").get(reverse("core:home")).content.decode()
    for name in ("loyalty:consumption_create", "loyalty:consumption_import", "loyalty:consumption_list"):
        assert reverse(name) in home
    rep = client_for("张伟").get(reverse("core:home")).content.decode()
    assert reverse("loyalty:consumption_create") not in rep and reverse("loyalty:consumption_import") not in rep


def test_the_list_and_a_consumption_show_the_buttons_their_reader_may_press(
    client_for: Any, people: dict[str, Any], buy: Any
) -> None:
    member = make_member(people["张伟"])
    original = buy(member, "300")
    refund_url = reverse(REFUND, args=[original.pk])
    wu, li = client_for("吴芳"), client_for("李明")
    listed = wu.get(reverse("loyalty:consumption_list")).content.decode()
    assert reverse(NEW) in listed and reverse("loyalty:consumption_import") in listed
    listed = li.get(reverse("loyalty:consumption_list")).content.decode()
    assert reverse(NEW) not in listed and reverse("loyalty:consumption_import") not in listed
    detail = reverse("loyalty:consumption_detail", args=[original.pk])
    assert refund_url in wu.get(detail).content.decode()
    assert refund_url not in li.get(detail).content.decode()  # a manager reads it, without 登记退款
    services.consumption_refund(original=original, amount="300", source="manual")
    assert refund_url not in wu.get(detail).content.decode()  # refunded in full


# --- no 500 on hostile input -------------------------------------------------------------------------------


def test_the_pages_with_hostile_input(client_for: Any, people: dict[str, Any], buy: Any) -> None:
    member = make_member(people["张伟"])
    original = buy(member, "100")
    urls = [
        reverse(RULES_URL),
        reverse(NEW),
        reverse(REFUND, args=[original.pk]),
        reverse("loyalty:consumption_import"),
    ]
    fields = [
        "customer",
        "occurred_at",
        "amount",
        "category",
        "venue",
        "order_no",
        "payment",
        "note",
        "window_months",
        "rounding",
        "expiry_months",
        "levels-TOTAL_FORMS",
        "levels-INITIAL_FORMS",
        "levels-0-id",
        "levels-0-name",
        "levels-0-rank",
        "levels-0-threshold",
        "levels-0-multiplier",
        "levels-0-DELETE",
        "_action",
        "batch",
    ]
    before = ledger_rows(), ladder()
    for who in ("管理员", "吴芳", "张伟"):
        c = client_for(who)
        for url in urls:
            for value in NASTY:
                assert c.get(url, dict.fromkeys(fields, value)).status_code < 500, (who, url, value)
                assert c.post(url, dict.fromkeys(fields, value)).status_code < 500, (who, url, value)
            assert c.post(url, rules_post(**{"levels-TOTAL_FORMS": "1000"})).status_code < 500
    assert (ledger_rows(), ladder()) == before
