"""【导入】 of consumption with real files in the layouts people bring (title rows, padded headers, GBK CSV, amounts
as floats, dates as Excel gives them, full-width spaces, totals rows); the batch earning rule held to the service
row by row; undo as offsetting refunds; and the pages."""

from __future__ import annotations

import io
import random
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import xlsxwriter
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from crm.accounts.models import Role
from crm.core.imports import ImportFileError, read_rows, read_table
from crm.core.models import AuditLog, ImportBatch, ImportStatus
from crm.customers.models import Customer, CustomerStatus
from crm.loyalty import imports, selectors, services
from crm.loyalty.errors import LoyaltyError
from crm.loyalty.models import (
    Consumption,
    EntryKind,
    LevelChange,
    LevelChangeReason,
    LoyaltySettings,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsLotUse,
)

from .conftest import D, consistent, make_member

pytestmark = pytest.mark.django_db

HEADER = ["会员 卡号", "手机号码", "姓名", "消费时间", "金额(元)", "消费类别", "消费场所", "订单号", "支付方式", "备注"]


def xlsx(rows: list[list[Any]], titles: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("消费")
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    r = 0
    for title in titles:
        sheet.write_string(r, 0, title)
        r += 1
    for row in rows:
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, when)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, value)
        r += 1
    book.close()
    return buffer.getvalue()


def ago(days: int, hour: int = 12) -> datetime:
    """A naive local time ``days`` ago, as a spreadsheet holds it."""
    return (timezone.localtime() - timedelta(days=days)).replace(
        hour=hour, minute=30, second=0, microsecond=0, tzinfo=None
    )


def counts() -> tuple[int, ...]:
    return (
        Consumption.objects.count(),
        PointsEntry.objects.count(),
        PointsLot.objects.count(),
        PointsLotUse.objects.count(),
        LevelChange.objects.count(),
        sum(PointsAccount.objects.values_list("balance", flat=True)),
    )


# --- a real file: checked row by row, committed, undone ------------------------------------------------------


def test_an_xlsx_with_titles_is_checked_row_by_row_committed_reported_and_undone(people: dict[str, Any]) -> None:
    li = people["李明"]  # 销售经理 of 销售一组: reaches 张伟's and 刘洋's members, not 杨帆's
    a = make_member(people["张伟"], name="王建华", card_no="JSH2026100001", mobile="13900000001")
    b = make_member(people["刘洋"], name="李 四", card_no="JSH2026100002", mobile="13900000002")
    make_member(people["杨帆"], name="别组", card_no="JSH2026100003", mobile="13900000003")
    make_member(people["张伟"], name="审核中", status=CustomerStatus.REGISTERING, mobile="13900000004")
    services.consumption_record(customer=a, amount="10", category="dining", source="manual", order_no="OLD-1")
    rows = [
        HEADER,
        ["JSH2026100001", "", "王建华", ago(3), 1280.5, "餐饮", "中餐厅", "A-1", "刷卡", ""],  # 4: good
        ["", 13900000002, "\u3000李 四 ", "2026/1/5 19:30", "￥2,000.00", "spa", "", "A-2", "微信", "生日"],  # 5: good
        ["NOPE", "", "", ago(3), 100, "餐饮", "", "", "", ""],  # 6 unknown card
        ["JSH2026100003", "", "", ago(3), 100, "餐饮", "", "", "", ""],  # 7 someone else's member
        ["JSH2026100001", "", "", ago(3), "abc", "餐饮", "", "", "", ""],  # 8 bad amount
        ["JSH2026100001", "", "", ago(3), -50, "餐饮", "", "", "", ""],  # 9 negative
        ["JSH2026100001", "", "", ago(3), 12.345, "餐饮", "", "", "", ""],  # 10 three decimals
        ["JSH2026100001", "", "", ago(3), 100, "洗浴", "", "", "", ""],  # 11 unknown category
        ["JSH2026100001", "", "", "2026-02-30", 100, "餐饮", "", "", "", ""],  # 12 no such day
        ["JSH2026100001", "", "", "2099-01-01", 100, "餐饮", "", "", "", ""],  # 13 future
        ["JSH2026100001", "", "", ago(3), 100, "餐饮", "", "A-1", "", ""],  # 14 order twice in the file
        ["JSH2026100001", "", "", ago(3), 100, "餐饮", "", "OLD-1", "", ""],  # 15 order recorded
        ["", "13900000004", "", ago(3), 100, "餐饮", "", "", "", ""],  # 16 not a member yet
        ["JSH2026100001", "", "张三", ago(3), 100, "餐饮", "", "", "", ""],  # 17 name does not match
        ["JSH2026100001", "13900000002", "", ago(3), 100, "餐饮", "", "", "", ""],  # 18 card and mobile differ
        ["", "", "", ago(3), 100, "餐饮", "", "", "", ""],  # 19 no member at all
        ["JSH2026100001", "", "", "", "", "", "", "", "刷脸", ""],  # 20 empty time, amount, category; bad payment
        ["合计", "", "", "", 3280.5, "", "", "", "", ""],
    ]
    before = counts()
    batch = imports.preview(
        actor=li, data=xlsx(rows, titles=("金仕会消费明细", "导出时间:2026-11-20")), filename="消费.xlsx"
    )
    assert (batch.kind, batch.total, batch.imported, batch.skipped) == ("consumption", 17, 2, 15)
    by_line = {p["line"]: ";".join(p["problems"]) for p in batch.problems}
    assert "找不到会员卡号为「NOPE」的会员,或不在您的数据权限范围内" in by_line[6]
    assert "找不到会员卡号为「JSH2026100003」的会员,或不在您的数据权限范围内" in by_line[7]
    assert "金额「abc」不是数字" in by_line[8]
    assert "金额必须大于 0" in by_line[9]
    assert "超过两位小数" in by_line[10]
    assert "未知的消费类别「洗浴」(可选:餐饮、茶酒、客房、SPA、娱乐、会籍、其他)" in by_line[11]
    assert "消费时间「2026-02-30」不是日期或时间" in by_line[12]
    assert "晚于现在" in by_line[13]
    assert "订单号「A-1」与第 4 行重复" in by_line[14]
    assert "订单号「OLD-1」已经登记过" in by_line[15]
    assert "「审核中」现在是「登记审核中」,还不是会员" in by_line[16]
    assert "会员是「王建华」,与姓名「张三」不符" in by_line[17]
    assert "会员卡号「JSH2026100001」与手机号「13900000002」不是同一位会员" in by_line[18]
    assert "会员卡号和手机号至少填写一项" in by_line[19]
    assert all(s in by_line[20] for s in ("消费时间为空", "金额为空", "消费类别为空", "未知的支付方式「刷脸」"))
    assert counts() == before  # a preview writes nothing

    batch = imports.commit(actor=li, batch=batch)
    assert (batch.status, batch.imported, batch.skipped, batch.data) == (ImportStatus.COMMITTED, 2, 15, None)
    first = Consumption.objects.get(order_no="A-1")
    assert (first.customer, first.amount, first.category, first.payment, first.venue) == (
        a,
        D("1280.50"),
        "dining",
        "card",
        "中餐厅",
    )
    assert (first.source, first.operator, first.import_batch, first.client_key) == ("import", li, batch, "")
    assert timezone.localtime(first.occurred_at).replace(tzinfo=None) == ago(3)
    second = Consumption.objects.get(order_no="A-2")
    assert (second.customer, second.amount, second.category, second.payment, second.note) == (
        b,
        D("2000.00"),
        "spa",
        "wechat",
        "生日",
    )
    assert timezone.localtime(second.occurred_at).strftime("%Y-%m-%d %H:%M") == "2026-01-05 19:30"
    assert consistent(a) == 10 + 1280 and consistent(b) == 2000
    assert PointsEntry.objects.get(consumption=first).reason == "餐饮"
    log = AuditLog.objects.filter(object_repr="导入消费记录:消费.xlsx").get()
    assert log.changes == {"imported": 2, "skipped": 15, "amount": "3280.50", "points": 3280, "upgrades": 0}
    with pytest.raises(imports.ImportRefused, match="已经是「已导入」"):
        imports.commit(actor=li, batch=batch)

    # undo: every sale offset by a refund dated at its time, the points taken back
    assert imports.undo(actor=li, batch=batch) == 2
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportStatus.UNDONE
    assert consistent(a) == 10 and consistent(b) == 0
    offset = Consumption.objects.get(refund_of=first)
    assert (offset.amount, offset.occurred_at, offset.import_batch, offset.note) == (
        D("-1280.50"),
        first.occurred_at,
        batch,
        "撤销导入「消费.xlsx」",
    )
    assert selectors.rolling_net(a) == D("10.00")
    assert PointsEntry.objects.get(consumption=offset).kind == EntryKind.REVERSAL
    assert selectors.reconcile()[1] == []
    with pytest.raises(imports.ImportRefused, match="不能撤销"):
        imports.undo(actor=li, batch=batch)
    # the (corrected) file again: the orders of the undone import are recorded again, once
    again = imports.commit(actor=li, batch=imports.preview(actor=li, data=xlsx(rows), filename="消费.xlsx"))
    assert (again.imported, again.skipped) == (2, 15)
    assert list(Consumption.objects.sales().filter(order_no="A-1").values_list("order_seq", "import_batch")) == [
        (0, batch.pk),
        (1, again.pk),
    ]
    assert consistent(a) == 10 + 1280 and consistent(b) == 2000
    assert selectors.rolling_net(a) == D("1290.50")
    once_more = imports.preview(actor=li, data=xlsx(rows), filename="消费.xlsx")
    assert "订单号「A-1」已经登记过,同一笔订单只计一次" in str(once_more.problems)
    assert once_more.imported == 0
    # and by hand, once that import is undone too: again once
    assert imports.undo(actor=li, batch=again) == 2

    def by_hand() -> Consumption:
        return services.consumption_record(
            customer=a, amount="1280.50", category="dining", source="manual", order_no="A-1", operator=li
        )

    assert by_hand().order_seq == 2
    with pytest.raises(LoyaltyError, match="订单号「A-1」已经登记过,同一笔订单只计一次") as refused:
        by_hand()
    assert refused.value.detail["consumption_id"] == Consumption.objects.sales().get(order_no="A-1", order_seq=2).pk
    assert consistent(a) == 10 + 1280
    assert selectors.reconcile()[1] == []


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_csv_in_gbk_or_utf8_with_title_lines_and_full_width_spaces(encoding: str, people: dict[str, Any]) -> None:
    member = make_member(people["张伟"], name="蒋一", card_no="JSH2026200001")
    text = (
        "# 中餐厅十一月消费\r\n"
        "\r\n"
        "卡号,客户姓名,交易时间,消费金额,类别,单号\r\n"
        "\tJSH2026200001 ,蒋\u3000一,2026年10月3日 18时05分,\u3000１２８０.００元,\u3000茶酒 ,\t20261003001\r\n"
        "jsh2026200001,,20261004,99.9,Dining,20261004001\r\n"
        "合计,,,1379.90,,\r\n"
    )
    zhang = people["张伟"]
    batch = imports.preview(actor=zhang, data=text.encode(encoding), filename="x.csv")
    assert (batch.total, batch.imported, batch.skipped) == (2, 2, 0), batch.problems
    imports.commit(actor=zhang, batch=batch)
    got = sorted(Consumption.objects.values_list("order_no", "amount", "category"))
    assert got == [("20261003001", D("1280.00"), "tea_wine"), ("20261004001", D("99.90"), "dining")]
    first = Consumption.objects.get(order_no="20261003001")
    assert timezone.localtime(first.occurred_at).strftime("%Y-%m-%d %H:%M") == "2026-10-03 18:05"
    assert consistent(member) == 1280 + 99


def test_numbers_and_dates_as_excel_gives_them(people: dict[str, Any]) -> None:
    member = make_member(people["张伟"], card_no="2026300001")  # a card number that is all digits
    day = ago(10)
    serial = (day - datetime(1899, 12, 30)).total_seconds() / 86400
    rows = [
        ["会员卡号", "消费时间", "金额", "消费类别", "订单号"],
        [2026300001, day, 0.1 + 0.2, "SPA", 77001],  # a float with noise; a number card and order
        [2026300001.0, serial, 1234.56, "会籍", 77002.0],  # a date cell formatted as a number
        [2026300001, day.date().isoformat(), 10, "其他", 1.2345678901234567e19],  # an order number Excel mangled
    ]
    batch = imports.preview(actor=people["张伟"], data=xlsx(rows), filename="n.xlsx")
    assert batch.imported == 2 and len(batch.problems) == 1
    assert "订单号被 Excel 存成了数字" in batch.problems[0]["problems"][0]
    imports.commit(actor=people["张伟"], batch=batch)
    got = dict(Consumption.objects.values_list("order_no", "amount"))
    assert got == {"77001": D("0.30"), "77002": D("1234.56")}
    times = {
        timezone.localtime(t).replace(tzinfo=None) for t in Consumption.objects.values_list("occurred_at", flat=True)
    }
    assert times == {day}
    assert consistent(member) == 0 + 1234


# --- the batch earns as the service does, row by row ---------------------------------------------------------


def _ledger(customer: Customer) -> list[tuple[Any, ...]]:
    entries = PointsEntry.objects.filter(account__customer=customer).order_by("id")
    lots = {lot.entry_id: (lot.points, lot.remaining, lot.expires_on) for lot in PointsLot.objects.all()}
    out: list[tuple[Any, ...]] = [
        (e.kind, e.points, e.balance_after, e.reason, lots.get(e.pk), e.consumption.amount if e.consumption else None)
        for e in entries.select_related("consumption")
    ]
    changes = LevelChange.objects.filter(account__customer=customer).order_by("id")
    out += [(c.from_level.name, c.to_level.name, c.reason, c.net_amount) for c in changes]
    account = PointsAccount.objects.get(customer=customer)
    return [*out, (account.balance, account.level.name)]


@pytest.mark.parametrize(("rounding", "expiry"), [("down", 12), ("half_up", 6), ("up", 0)])
def test_the_batch_writes_what_the_service_writes_row_by_row(
    people: dict[str, Any], rounding: str, expiry: int
) -> None:
    LoyaltySettings.objects.filter(pk=1).update(rounding=rounding, expiry_months=expiry, window_months=12)
    admin = people["管理员"]
    rnd = random.Random(f"{rounding}{expiry}")
    pairs = []
    for i in range(4):
        one = make_member(people["张伟"], name=f"甲{i}", card_no=f"JSH20264000{i}A")
        two = make_member(people["张伟"], name=f"甲{i}", card_no=f"JSH20264000{i}B")
        if i == 1:  # one pair starts near 银卡, one already at 银卡 with consumption inside the window
            for m in (one, two):
                services.consumption_record(customer=m, amount="45000", category="room", source="manual")
        if i == 2:
            for m in (one, two):
                services.consumption_record(
                    customer=m, amount="60000", category="room", source="manual", occurred_at=timezone.now()
                )
        pairs.append((one, two))
    rows = []
    for line in range(60):
        i = rnd.randrange(4)
        days = rnd.choice([1, 5, 40, 200, 364, 400, 800])  # inside and outside the 12-month window
        amount = Decimal(rnd.choice(["0.50", "99.99", "1280.45", "15000", "48000.10", "150000", "333.33"]))
        rows.append((line + 2, i, ago(days, hour=rnd.randrange(8, 22)), amount, rnd.choice(["餐饮", "客房", "会籍"])))
    # the service, one row after the other in the order the sales happened
    for _line, i, when, amount, category in sorted(rows, key=lambda r: (r[2], r[0])):
        services.consumption_record(
            customer=pairs[i][0],
            amount=amount,
            category=category,
            source="import",
            occurred_at=timezone.make_aware(when),
            operator=admin,
        )
    # the batch, from a file in file order
    data: list[list[Any]] = [["会员卡号", "消费时间", "金额", "消费类别"]]
    data += [[pairs[i][1].card_no, when, str(amount), category] for _line, i, when, amount, category in rows]
    batch = imports.preview(actor=admin, data=xlsx(data), filename="same.xlsx")
    assert batch.imported == 60, batch.problems
    imports.commit(actor=admin, batch=batch)
    upgrades = 0
    for one, two in pairs:
        assert _ledger(one) == _ledger(two)
        upgrades += LevelChange.objects.filter(account__customer=two).count()
    assert upgrades >= 3  # the rows did move members up
    assert selectors.reconcile()[1] == []


def test_ten_thousand_rows_import_and_undo_in_well_under_a_minute(people: dict[str, Any]) -> None:
    admin = people["管理员"]
    zhang = people["张伟"]
    now = timezone.now()
    Customer.objects.bulk_create(
        Customer(
            name=f"会员{i}",
            mobile=f"137{i:08d}",
            card_no=f"P{i:07d}",
            owner=zhang,
            department=zhang.department,
            registered_by=zhang,
            status=CustomerStatus.FORMAL,
            owned_since=now,
        )
        for i in range(1000)
    )
    rnd = random.Random(5)
    rows: list[list[Any]] = [["会员卡号", "消费时间", "金额", "消费类别", "订单号"]]
    rows += [
        [f"P{rnd.randrange(1000):07d}", ago(rnd.randrange(1, 300)), round(rnd.uniform(10, 90000), 2), "餐饮", f"T{i}"]
        for i in range(10_000)
    ]
    data = xlsx(rows)
    start = time.perf_counter()
    batch = imports.commit(actor=admin, batch=imports.preview(actor=admin, data=data, filename="big.xlsx"))
    took = time.perf_counter() - start
    assert batch.imported == 10_000 and took < 30, took
    assert Consumption.objects.filter(import_batch=batch).count() == 10_000
    assert LevelChange.objects.exists() and selectors.reconcile()[1] == []
    start = time.perf_counter()
    assert imports.undo(actor=admin, batch=batch) == 10_000
    assert time.perf_counter() - start < 30
    assert sum(PointsAccount.objects.values_list("balance", flat=True)) == 0
    assert selectors.reconcile()[1] == []


# --- undo -------------------------------------------------------------------------------------------------


def _import(actor: Any, rows: list[list[Any]], filename: str = "u.xlsx") -> ImportBatch:
    data = xlsx([["会员卡号", "消费时间", "金额", "消费类别", "订单号"], *rows])
    batch = imports.preview(actor=actor, data=data, filename=filename)
    assert not batch.problems, batch.problems
    return imports.commit(actor=actor, batch=batch)


def test_a_card_and_a_mobile_must_name_the_same_member(people: dict[str, Any]) -> None:
    """Both given, the mobile confirms the card: one of nobody's, or mistyped, does not; full-width is read."""
    make_member(people["张伟"], name="王建华", card_no="JSH2026100001", mobile="13900000001")
    rows = [
        ["会员卡号", "手机号", "消费时间", "金额", "消费类别", "订单号"],
        ["JSH2026100001", "13912349876", ago(3), 100, "餐饮", "M-1"],  # nobody's mobile
        ["JSH2026100001", "12345", ago(3), 100, "餐饮", "M-2"],
        ["JSH2026100001", "abc", ago(3), 100, "餐饮", "M-3"],
        ["ｊｓｈ２０２６１００００１", "１３９ ００００ ０００１", ago(3), 100, "餐饮", "M-4"],  # good: full-width
    ]
    batch = imports.preview(actor=people["李明"], data=xlsx(rows), filename="m.xlsx")
    by_line = {p["line"]: ";".join(p["problems"]) for p in batch.problems}
    assert (batch.imported, sorted(by_line)) == (1, [2, 3, 4]), by_line
    assert by_line[2] == "会员卡号「JSH2026100001」与手机号「13912349876」不是同一位会员"
    assert by_line[3] == "手机号「12345」格式不对" and by_line[4] == "手机号「abc」格式不对"


def test_a_refusal_names_up_to_three_members_and_counts_the_rest(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    for name in ("丁", "丙", "乙", "甲", "甲"):  # two members named 甲
        services.consumption_record(
            customer=make_member(zhang, name=name), amount="1", category="dining", source="manual"
        )
    assert imports._members_named(Consumption.objects.filter(customer__name="丙"), "customer") == "「丙」"
    named = imports._members_named(Consumption.objects.all(), "customer")
    assert named.startswith("「") and named.endswith("等 5 位会员") and named.count("「") == 3


def test_undo_is_refused_once_points_were_spent_or_a_sale_refunded(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    member = make_member(zhang, card_no="JSH2026500001")
    batch = _import(
        zhang, [["JSH2026500001", ago(2), 1000, "餐饮", "U-1"], ["JSH2026500001", ago(1), 500, "餐饮", "U-2"]]
    )
    services.points_redeem(customer=member, points=10)
    before = counts()
    with pytest.raises(imports.ImportRefused, match=r"积分已有被兑换或扣减的\(「孙总」\),不能整批撤销"):
        imports.undo(actor=zhang, batch=batch)
    assert counts() == before

    other = make_member(zhang, card_no="JSH2026500002")
    batch = _import(zhang, [["JSH2026500002", ago(2), 1000, "餐饮", "U-3"]])
    services.consumption_refund(original=Consumption.objects.get(order_no="U-3"), amount="100", source="manual")
    before = counts()
    with pytest.raises(imports.ImportRefused, match=r"已有退款\(「孙总」\),不能整批撤销"):
        imports.undo(actor=zhang, batch=batch)
    assert counts() == before and consistent(other) == 900
    # only the importer (or a superuser) undoes
    with pytest.raises(imports.ImportRefused, match="只有导入人可以撤销"):
        imports.undo(actor=people["刘洋"], batch=batch)
    # a batch of another kind of import is none of this one's
    leads = ImportBatch.objects.create(kind="lead", filename="l.xlsx", created_by=zhang, status=ImportStatus.COMMITTED)
    for step in (imports.commit, imports.undo):
        with pytest.raises(imports.ImportRefused, match="找不到这次导入"):
            step(actor=people["管理员"], batch=leads)


def test_undo_takes_back_what_is_left_of_expired_points_and_puts_the_level_back(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    member = make_member(zhang, card_no="JSH2026600001")
    services.consumption_record(customer=member, amount="100", category="dining", source="manual")
    # an old sale (its points expired) and a recent one that lifts the member to 银卡
    batch = _import(
        zhang, [["JSH2026600001", ago(400), 800, "餐饮", "E-1"], ["JSH2026600001", ago(5), 55000, "客房", "E-2"]]
    )
    account = PointsAccount.objects.get(customer=member)
    assert account.level.name == "银卡" and account.balance == 100 + 800 + 55000
    services.points_expire()  # the old sale's 800 points are past their date
    assert consistent(member) == 100 + 55000
    imports.undo(actor=zhang, batch=batch)
    account.refresh_from_db()
    assert consistent(member) == 100  # 55,000 taken back; the 800 were gone already
    assert account.level.name == "普卡"
    restore = LevelChange.objects.filter(account=account).latest("id")
    assert (restore.from_level.name, restore.to_level.name, restore.reason) == (
        "银卡",
        "普卡",
        LevelChangeReason.MANUAL,
    )
    assert restore.note == "撤销导入「u.xlsx」"
    reversal_points = sorted(PointsEntry.objects.filter(kind=EntryKind.REVERSAL).values_list("points", flat=True))
    assert reversal_points == [-55000]
    assert Consumption.objects.filter(import_batch=batch, refund_of__isnull=False).count() == 2
    assert selectors.reconcile()[1] == []


def test_undo_leaves_a_level_changed_since_the_import(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    member = make_member(zhang, card_no="JSH2026700001")
    batch = _import(zhang, [["JSH2026700001", ago(5), 60000, "客房", "L-1"]])
    services.level_set(actor=people["管理员"], customer=member, level=selectors.levels()[2], note="贵宾")
    imports.undo(actor=zhang, batch=batch)
    assert PointsAccount.objects.get(customer=member).level.name == "金卡"
    assert consistent(member) == 0


def test_commit_checks_again_what_changed_since_the_preview(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    member = make_member(zhang, card_no="JSH2026800001")
    data = xlsx([["会员卡号", "消费时间", "金额", "消费类别", "订单号"], ["JSH2026800001", ago(1), 100, "餐饮", "C-1"]])
    batch = imports.preview(actor=zhang, data=data, filename="c.xlsx")
    assert batch.imported == 1
    with pytest.raises(imports.ImportRefused, match="只有上传文件的人可以确认"):
        imports.commit(actor=people["刘洋"], batch=batch)
    services.consumption_record(customer=member, amount="5", category="dining", source="manual", order_no="C-1")
    batch = imports.commit(actor=zhang, batch=batch)
    assert (batch.imported, batch.skipped) == (0, 1)
    assert "订单号「C-1」已经登记过" in batch.problems[0]["problems"][0]


def test_an_order_a_pos_posted_is_not_imported_again(people: dict[str, Any]) -> None:
    from crm.core.models import ApiClient

    zhang = people["张伟"]
    member = make_member(zhang, card_no="JSH2026800002")
    pos = ApiClient.objects.create(name="前台 POS", key_prefix="p1", key_hash="x")
    services.consumption_record(
        customer=member, amount="5", category="dining", source="api", order_no="P-7", client_key=f"api:{pos.pk}"
    )
    rows = [["会员卡号", "消费时间", "金额", "消费类别", "订单号"], ["JSH2026800002", ago(1), 100, "餐饮", "P-7"]]
    batch = imports.preview(actor=zhang, data=xlsx(rows), filename="p.xlsx")
    assert batch.problems[0]["problems"] == ["订单号「P-7」已由收银系统「前台 POS」上传过,同一笔订单只计一次"]


def test_a_totals_row_is_skipped_whichever_column_holds_its_word(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    make_member(zhang, card_no="JSH2026800003")
    rows = [
        ["序号", "会员卡号", "消费时间", "金额", "消费类别"],
        [1, "JSH2026800003", ago(1), 100, "餐饮"],
        [None, " 合计 ", None, 100, None],  # the day's total under 金额, its word in the second column
        ["总计:1 笔", None, None, 100, None],
    ]
    batch = imports.preview(actor=zhang, data=xlsx(rows), filename="day.xlsx")
    assert (batch.total, batch.imported, batch.skipped) == (1, 1, 0), batch.problems


def test_nul_characters_deep_in_a_csv_are_dropped_not_errors(people: dict[str, Any]) -> None:
    make_member(people["张伟"], card_no="JSH2026900001")
    filler = "".join(f"JSH2026900001,2026-10-01,1,餐饮,F{i},很长的备注{'。' * 40}\n" for i in range(60))
    last = "JSH\x002026900001,2026-10-0\x001,1\x00,餐\x00饮,N\x001,\x00\n"  # past the reader's first 4 KB
    text = "会员卡号,消费时间,金额,消费类别,订单号,备注\n" + filler + last
    batch = imports.preview(actor=people["张伟"], data=text.encode(), filename="a\x00b.csv")
    assert batch.filename == "ab.csv" and batch.imported == 61 and not batch.problems
    batch = imports.commit(actor=people["张伟"], batch=batch)
    assert batch.imported == 61 and Consumption.objects.filter(order_no="N1").exists()


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "a.xlsx", "空的"),
        (b"PK\x03\x04broken", "a.xlsx", "已损坏"),
        ("会员卡号,金额\nJSH1,100\n".encode(), "a.csv", "只认出了「会员卡号、金额」;缺少「消费时间、消费类别」"),
        ("会员卡号,消费时间,金额,消费类别\n".encode(), "a.csv", "没有数据行"),
    ],
)
def test_files_that_cannot_be_imported_say_why(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        read_table(data, filename, imports.COLUMNS)


# --- the pages --------------------------------------------------------------------------------------------


def test_the_import_pages(client_for: Any, people: dict[str, Any]) -> None:
    make_member(people["张伟"], name="王建华", card_no="JSH2026000001")
    wu = client_for("吴芳")
    url = reverse("loyalty:consumption_import")
    r = wu.get(reverse("core:import_template", args=["consumption"]))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    template = read_table(r.content, "t.xlsx", imports.COLUMNS)  # the template's own header is recognised
    assert template.rows[0][1]["card_no"] == "JSH2026000001"

    r = wu.post(url, {"_action": "preview"})
    assert r.status_code == 422 and "请选择要导入的文件" in r.content.decode()
    r = wu.post(url, {"_action": "preview", "file": SimpleUploadedFile("a.xlsx", b"nonsense")})
    assert r.status_code == 422 and "内容不是 Excel" in r.content.decode()

    # the template, as downloaded, with one bad row added
    rows = [imports.COLUMNS[i].label for i in range(len(imports.COLUMNS))]
    example = [c.example for c in imports.COLUMNS]
    example[3] = ago(1).strftime("%Y-%m-%d %H:%M")
    bad = [*example]
    bad[0], bad[7] = "NOPE", "X-2"
    data = xlsx([rows, example, bad])
    r = wu.post(url, {"_action": "preview", "file": SimpleUploadedFile("消费.xlsx", data)})
    assert r.status_code == 200
    page = r.content.decode()
    assert "1 行可以导入" in page and "1 行有问题" in page and "找不到会员卡号为「NOPE」的会员" in page
    batch = ImportBatch.objects.get(filename="消费.xlsx")
    r = wu.get(reverse("core:import_problems", args=["consumption", batch.pk]))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    r = wu.post(url, {"_action": "commit", "batch": batch.pk})
    assert r.status_code == 200 and "已导入 1 条消费记录;1 行未导入" in r.content.decode()
    assert Consumption.objects.filter(import_batch=batch, operator=people["吴芳"]).count() == 1
    # someone else's batch is not found; a rep without the permission is refused
    Role.objects.get(name="业务员").permissions.add(Permission.objects.get(codename="import_consumption"))
    zhang = client_for("张伟")
    assert zhang.post(url, {"_action": "undo", "batch": batch.pk}).status_code == 404
    assert zhang.get(reverse("core:import_problems", args=["consumption", batch.pk])).status_code == 404
    assert client_for("刘洋").get(url).status_code == 200
    Role.objects.get(name="业务员").permissions.remove(Permission.objects.get(codename="import_consumption"))
    assert client_for("杨帆").post(url, {"_action": "undo", "batch": batch.pk}).status_code == 403
    assert wu.post(url, {"_action": "undo", "batch": "99999999999999"}).status_code == 404
    assert wu.post(url, {"_action": "nonsense", "batch": batch.pk}).status_code == 400
    r = wu.post(url, {"_action": "undo", "batch": batch.pk})
    assert r.status_code == 200 and "已撤销这次导入:1 条消费已冲销" in r.content.decode()
    assert sum(PointsAccount.objects.values_list("balance", flat=True)) == 0
    r = wu.post(url, {"_action": "undo", "batch": batch.pk})
    assert r.status_code == 422 and "不能撤销" in r.content.decode()


def test_the_templates_example_row_is_never_imported(client_for: Any, people: dict[str, Any]) -> None:
    """It names the first card of a year, a real member on any live system."""
    make_member(people["张伟"], name="王建华", card_no="JSH2026000001")
    wu = client_for("吴芳")
    template = wu.get(reverse("core:import_template", args=["consumption"])).content
    r = wu.post(
        reverse("loyalty:consumption_import"),
        {"_action": "preview", "file": SimpleUploadedFile("模板.xlsx", template)},
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert "0 行可以导入" in page and "1 行有问题" in page and "这是模板中的示例行,请删除后再导入" in page
    # typed again, with a number for the amount and a date cell for the time, it is still the example
    example: list[Any] = [c.example for c in imports.COLUMNS]
    example[3], example[4] = datetime(2026, 11, 20, 19, 30), 1280
    batch = imports.preview(actor=people["吴芳"], data=xlsx([HEADER, example]), filename="例.xlsx")
    assert (batch.imported, batch.skipped) == (0, 1)
    assert batch.problems[0]["problems"] == ["这是模板中的示例行,请删除后再导入"]
    assert not Consumption.objects.exists()


def test_the_rows_not_imported_download_as_typed_and_import_again_as_they_are(
    client_for: Any, people: dict[str, Any]
) -> None:
    member = make_member(people["张伟"], name="王建华", card_no="JSH2026110001", mobile="13900000011")
    services.consumption_record(customer=member, amount="10", category="dining", source="manual", order_no="OLD-9")
    when = ago(3, hour=19)
    rows = [
        HEADER,
        ["JSH2026110001", "", "王建华", when, 1280.5, "餐饮", "中餐厅", "B-1", "刷卡", ""],  # 2: good
        ["NOPE", 13900000012, "", when, 100, "餐饮", "", "B-2", "", ""],  # 3: a mobile typed as a number
        ["JSH2026110001", "", "", when, 12.345, "餐饮", "", "", "", "三位小数"],
        ["JSH2026110001", "", "", "2026/1/5 19:30", "abc", "洗浴", "", 20261120001, "刷脸", ""],  # a number order
        ["jsh2026110001", "", "张三", ago(400, hour=9), 100, "餐饮", "", "", "", ""],
        ["JSH2026110001", "", "", when, "￥100.00", "餐饮", "", "OLD-9", "", ""],
        ["", "", "", "2099-01-01", 100, "餐饮", "", "", "", ""],
    ]
    wu = client_for("吴芳")
    url = reverse("loyalty:consumption_import")
    r = wu.post(url, {"_action": "preview", "file": SimpleUploadedFile("消费.xlsx", xlsx(rows))})
    assert r.status_code == 200
    batch = ImportBatch.objects.get(filename="消费.xlsx")
    assert (batch.total, batch.imported, batch.skipped) == (7, 1, 6)

    r = wu.get(reverse("core:import_problems", args=["consumption", batch.pk]))
    assert r.status_code == 200
    sheet = read_rows(r.content, "未导入的行.xlsx")
    assert sheet[0] == ["行号", *[c.label for c in imports.COLUMNS], "问题"]
    assert [row[0] for row in sheet[1:]] == [3, 4, 5, 6, 7, 8]
    got = [dict(zip(sheet[0], row, strict=True)) for row in sheet[1:]]
    assert (got[0]["会员卡号"], got[0]["手机号"], got[0]["消费时间"]) == (
        "NOPE",
        "13900000012",
        when.strftime("%Y-%m-%d %H:%M"),
    )
    assert (got[1]["金额"], got[1]["备注"]) == ("12.345", "三位小数")
    assert (got[2]["消费时间"], got[2]["订单号"], got[2]["支付方式"]) == ("2026/1/5 19:30", "20261120001", "刷脸")
    assert (got[3]["会员卡号"], got[4]["金额"], got[5]["消费时间"]) == ("jsh2026110001", "￥100.00", "2099-01-01")
    assert got[4]["问题"] == "订单号「OLD-9」已经登记过,同一笔订单只计一次"

    # the file as downloaded, uploaded again: the same rows, as they were typed, with the same problems
    r = wu.post(url, {"_action": "preview", "file": SimpleUploadedFile("未导入的行.xlsx", r.content)})
    assert r.status_code == 200
    again = ImportBatch.objects.get(filename="未导入的行.xlsx")
    assert (again.total, again.imported, again.skipped) == (6, 0, 6)
    assert [p["values"] for p in again.problems] == [p["values"] for p in batch.problems]
    assert [p["problems"] for p in again.problems] == [p["problems"] for p in batch.problems]
    assert [p["name"] for p in again.problems] == [p["name"] for p in batch.problems]
