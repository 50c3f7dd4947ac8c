"""系统管理 › 积分规则, 消费录入 and 退款: the services behind the pages and the pages themselves, with every refusal
a sentence that leaves nothing written."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crm.core.models import AuditLog
from crm.loyalty import services
from crm.loyalty.errors import LoyaltyError
from crm.loyalty.models import LevelChange, LoyaltySettings, MemberLevel, PointsAccount

from .conftest import make_member

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
