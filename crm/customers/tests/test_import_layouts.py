"""【导入】 of workbooks as staff lay them out: a hidden sheet of old data, a sheet of notes before the data, cells
merged down the rows they share, full-width digits and brackets typed by a Chinese input method, dates as Excel's
day numbers, totals rows written any way, 「Unicode 文本」 CSV, and the file of rows not imported uploaded again."""

from __future__ import annotations

import io
from typing import Any

import pytest
import xlsxwriter

from crm.core.imports import ImportFileError, read_table
from crm.customers import imports
from crm.customers.models import Customer

pytestmark = pytest.mark.django_db


def workbook(sheets: list[tuple[str, list[Any]]], hidden: tuple[str, ...] = (), merge: Any = None) -> bytes:
    """An .xlsx of named sheets (``hidden`` ones hidden); ``merge(sheet_name, worksheet)`` may merge cells."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets:
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, int | float):
                    sheet.write_number(r, c, value)
                elif value is not None:
                    sheet.write_string(r, c, value)
        if name in hidden:
            sheet.hide()
        if merge:
            merge(name, sheet)
    if hidden:  # a hidden sheet cannot be the active one: the first visible sheet is
        book.worksheets()[[n for n, _r in sheets].index(next(n for n, _r in sheets if n not in hidden))].activate()
    book.close()
    return buffer.getvalue()


def preview(actor: Any, data: bytes, filename: str = "客户.xlsx") -> Any:
    return imports.preview(actor=actor, kind=imports.KINDS["customer"], data=data, filename=filename)


def test_a_hidden_sheet_is_not_read(people: dict[str, Any]) -> None:
    data = workbook(
        [
            ("旧数据", [["姓名", "手机号"], ["隐藏旧人", "13755559999"]]),
            ("客户", [["姓名", "手机号"], ["可见人", "13755550002"]]),
        ],
        hidden=("旧数据",),
    )
    batch = preview(people["李明"], data)
    assert (batch.total, batch.imported) == (1, 1)
    imports.commit(actor=people["李明"], batch=batch)
    assert list(Customer.objects.values_list("name", flat=True)) == ["可见人"]


def test_a_sheet_of_notes_before_the_data_is_passed_over_and_the_preview_says_which_sheet_was_read(
    people: dict[str, Any],
) -> None:
    data = workbook([("说明", [["本表为 11 月新客户"]]), ("客户", [["姓名", "手机号"], ["二表甲", "13855550001"]])])
    batch = preview(people["李明"], data)
    assert (batch.total, batch.imported) == (1, 1)
    assert batch.notices == ["读取的是工作表「客户」:前面的工作表「说明」中没有表头。"]


def test_no_sheet_with_a_header_says_so_naming_the_sheet_most_like_one() -> None:
    data = workbook([("说明", [["本表为新客户"]]), ("客户", [["姓名", "电话"], ["甲", "13855550001"]])])
    with pytest.raises(ImportFileError) as caught:
        read_table(data, "x.xlsx", imports.CUSTOMER_COLUMNS)
    message = " ".join(caught.value.messages)
    assert message.startswith("工作表「客户」第 1 行像是表头,但只认出了「姓名」")
    assert message.endswith("(文件中 2 个工作表都找过了。)")


def test_a_value_merged_down_several_rows_belongs_to_each_of_them(people: dict[str, Any]) -> None:
    rows = [
        ["姓名", "手机号", "负责人", "客户来源", "公司", "职位"],
        ["并甲", "13744440001", "周丽", "活动", "丙集团", None],
        ["并乙", "13744440002", None, None, None, None],
        ["并丙", "13744440003", None, None, None, None],
    ]

    def merge(name: str, sheet: Any) -> None:
        for col, value in ((2, "周丽"), (3, "活动")):
            sheet.merge_range(1, col, 3, col, value)
        sheet.merge_range(1, 4, 1, 5, "丙集团")  # across two columns: the value is the first column's alone

    batch = preview(people["王建国"], workbook([("客户", rows)], merge=merge))
    assert (batch.total, batch.imported) == (3, 3), batch.problems
    imports.commit(actor=people["王建国"], batch=batch)
    found = Customer.objects.order_by("mobile").values_list(
        "name", "owner__username", "source__label", "company", "title"
    )
    assert list(found) == [
        ("并甲", "周丽", "活动", "丙集团", ""),
        ("并乙", "周丽", "活动", "", ""),
        ("并丙", "周丽", "活动", "", ""),
    ]


def test_what_a_chinese_input_method_types_is_read_as_meant(people: dict[str, Any]) -> None:
    rows = [
        ["姓名", "手机号", "身份证号", "生日", "会员卡号", "客户级别", "负责人", "性别"],
        [
            "全角甲",
            "１３８２２２２０００１",
            "１１０１０１１９７５０６１８００１０",
            "１９７５－０６－１８",
            "ＶＩＰ－００２",
            "A（重点客户）",
            "张伟（销售二组）",
            "男",
        ],
        ["区号乙", "(+86)13811110005", "", 31000, "", "b(普通客户)", "张伟 (销售二组)", "女"],
        ["区号丙", "8613811110006", "", "", "", "", "", ""],
    ]
    batch = preview(people["王建国"], workbook([("客户", rows)]))
    assert (batch.total, batch.imported) == (3, 3), batch.problems
    imports.commit(actor=people["王建国"], batch=batch)
    got = {c.name: c for c in Customer.objects.select_related("level", "owner")}
    first = got["全角甲"]
    assert (first.mobile, first.id_number, str(first.birthday), first.card_no) == (
        "13822220001",
        "110101197506180010",
        "1975-06-18",
        "VIP-002",
    )
    assert first.level.label == "A(重点客户)" and first.owner.username == "张伟(销售二组)"
    second = got["区号乙"]
    assert second.mobile == "13811110005" and str(second.birthday) == "1984-11-14"  # Excel's day 31000
    assert second.level.label == "B(普通客户)" and second.owner.username == "张伟(销售二组)"
    assert got["区号丙"].mobile == "13811110006"


def test_an_id_number_typed_as_a_number_is_said_once(people: dict[str, Any]) -> None:
    rows = [["姓名", "身份证号"], ["郑一", 110101197506180037]]
    batch = preview(people["李明"], workbook([("客户", rows)]))
    assert batch.problems[0]["problems"] == ["身份证号被 Excel 存成了数字,末几位已丢失;请把该列设为文本后重新填写"]


@pytest.mark.parametrize(
    "totals",
    [
        ["合 计", "", ""],
        ["总　计:", "", ""],
        ["", "小计(3 人)", ""],
        [3, "合计", ""],
        ["", "", "合计"],
    ],
)
def test_a_totals_row_is_skipped_whichever_column_holds_it(totals: list[Any]) -> None:
    rows = [["序号", "姓名", "手机号"], [1, "甲", "13811110001"], [2, "乙", "13811110002"], totals]
    table = read_table(workbook([("客户", rows)]), "x.xlsx", imports.CUSTOMER_COLUMNS)
    assert [values["name"] for _line, values in table.rows] == ["甲", "乙"]


def test_a_name_that_only_contains_the_word_is_not_a_totals_row() -> None:
    rows = [["姓名", "手机号", "备注"], ["计明", "13811110001", "合计消费 3 次"], ["合计", "", ""]]
    table = read_table(workbook([("客户", rows)]), "x.xlsx", imports.CUSTOMER_COLUMNS)
    assert [values["name"] for _line, values in table.rows] == ["计明"]


def test_unicode_text_csv_from_excel_is_read(people: dict[str, Any]) -> None:
    text = "姓名\t手机号\r\n统一码\t13811110007\r\n"
    batch = preview(people["李明"], text.encode("utf-16"), filename="客户.csv")
    assert (batch.total, batch.imported) == (1, 1)


def test_the_file_of_rows_not_imported_goes_in_again_without_a_word_about_its_own_columns(
    people: dict[str, Any],
) -> None:
    rows = [["行号", "姓名", "手机号", "问题"], [3, "改好", "13811110008", "手机号「1381111000」格式不对"]]
    batch = preview(people["李明"], workbook([("未导入的行", rows)]))
    assert (batch.imported, batch.unused_columns) == (1, [])


def test_a_duplicate_names_its_owner_by_login_name(people: dict[str, Any]) -> None:
    other = people["张伟(销售二组)"]
    Customer.objects.create(name="二组客户", mobile="13811110009", registered_by=other, owner=other, status="formal")
    batch = preview(people["王建国"], workbook([("客户", [["姓名", "手机号"], ["重复", "13811110009"]])]))
    assert "已登记为客户「二组客户」(负责人:张伟(销售二组))" in batch.problems[0]["problems"][0]
