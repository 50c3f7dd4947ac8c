"""【导入】 with real files in the layouts people bring: title rows, padded headers, numbers typed into Excel,
GBK CSV, totals rows; and files that are not spreadsheets at all."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from crm.core.imports import ImportFileError, read_rows, read_table
from crm.core.models import ImportBatch, ImportStatus
from crm.customers import imports
from crm.customers.models import Customer, CustomerStatus, FollowUp, Lead, LeadStatus

pytestmark = pytest.mark.django_db


def xlsx(rows: list[list[Any]], titles: list[str] = ()) -> bytes:  # type: ignore[assignment]
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("客户")
    r = 0
    for title in titles:
        sheet.write_string(r, 0, title)
        r += 1
    for row in rows:
        for c, value in enumerate(row):
            if isinstance(value, int | float):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, value)
        r += 1
    book.close()
    return buffer.getvalue()


HEADER = ["姓 名", "手机号码", "身份证号", "客户来源", "负责人", "接收营销短信", "生日"]


def customer_rows(people: dict[str, Any]) -> list[list[Any]]:
    Customer.objects.create(
        name="老客户", mobile="13700000001", registered_by=people["张伟"], owner=people["张伟"], status="formal"
    )
    return [
        ["\u3000王建华 ", 13912345678, "110101197506180010", "转介绍", "刘洋", "是", "1975-06-18"],  # good
        ["李四", "1391234567", "", "", "", "", ""],  # bad mobile
        ["赵六", "13912345679", "110101197506180013", "", "", "", ""],  # bad check digit
        ["钱七", "13700000001", "", "", "", "", ""],  # held by a customer already
        ["孙八", "13912345678", "", "", "", "", ""],  # same mobile as row 1 of the data
        ["周九", "13912345680", "", "朋友圈", "", "", ""],  # unknown source
        ["吴十", "13912345681", "", "", "杨帆", "", ""],  # owner out of 张伟's manager's reach
        ["郑一", "13912345682", 110101197506180037, "", "", "", ""],  # ID typed as a number
        ["王二", "", "", "", "", "", ""],  # neither mobile nor ID
        ["合计", "", "", "", "", "", ""],
    ]


def test_an_xlsx_with_titles_is_checked_row_by_row_then_committed_and_undone(people: dict[str, Any]) -> None:
    li = people["李明"]
    data = xlsx([HEADER, *customer_rows(people)], titles=["金仕会客户名单", "导出时间:2026-11-20"])
    kind = imports.KINDS["customer"]
    batch = imports.preview(actor=li, kind=kind, data=data, filename="客户.xlsx")
    assert (batch.total, batch.imported, batch.skipped) == (9, 1, 8)
    by_line = {p["line"]: ";".join(p["problems"]) for p in batch.problems}
    # data starts on line 4 (two titles, the header on line 3)
    assert "手机号「1391234567」格式不对" in by_line[5]
    assert "校验位" in by_line[6]
    assert "已登记为客户「老客户」(负责人:张伟)" in by_line[7] and "137****0001" in by_line[7]
    assert "与第 4 行重复" in by_line[8]
    assert "未知的客户来源「朋友圈」" in by_line[9] and "转介绍" in by_line[9]
    assert "不在您的数据权限范围内" in by_line[10]
    assert "存成了数字" in by_line[11]
    assert "至少填写一项" in by_line[12]
    assert Customer.objects.count() == 1  # nothing written by a preview

    batch = imports.commit(actor=li, batch=batch)
    assert (batch.status, batch.imported, batch.skipped, batch.data) == (ImportStatus.COMMITTED, 1, 8, None)
    c = Customer.objects.get(name="王建华")
    assert (c.mobile, c.owner, c.department, c.status) == (
        "13912345678",
        people["刘洋"],
        people["刘洋"].department,
        "formal",
    )
    assert c.card_no and c.name_initials == "wjh" and " 建华 " in c.name_grams
    assert c.sms_consent and c.sms_consent_at and c.birthday.isoformat() == "1975-06-18"
    assert c.source.label == "转介绍"
    with pytest.raises(imports.ImportRefused):
        imports.commit(actor=li, batch=batch)

    assert imports.undo(actor=li, batch=batch) == 1
    assert not Customer.objects.filter(name="王建华").exists()
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportStatus.UNDONE


def test_an_owner_is_named_by_login_name_or_by_an_unambiguous_full_name(
    client_for: Any, people: dict[str, Any]
) -> None:
    rows = [["姓名", "手机号", "负责人"], ["甲", "13800000041", "张伟"], ["乙", "13800000042", "张伟(销售二组)"]]
    rows += [["丙", "13800000043", "刘洋"], ["丁", "13800000044", "无此人"]]
    upload = {"_action": "preview", "file": SimpleUploadedFile("o.xlsx", xlsx(rows))}
    page = client_for("王建国").post(reverse("customers:import", args=["lead"]), upload).content.decode()
    assert 'data-testid="import-notice">负责人填「张伟」的 1 行按登录名给了销售一组的张伟' in page
    batch = ImportBatch.objects.get(filename="o.xlsx")
    assert batch.imported == 3 and "不是在职员工" in batch.problems[0]["problems"][0]
    # 「张伟」 is a login name and another person's full name: the row goes by the login, and the preview says so
    assert batch.notices == [
        "负责人填「张伟」的 1 行按登录名给了销售一组的张伟;同名的还有销售二组的「张伟(销售二组)」。"
        "如果这些行指的是后者,请把负责人改成其登录名后重新上传。"
    ]
    imports.commit(actor=people["王建国"], batch=batch)
    owners = dict(Lead.objects.values_list("name", "owner__username"))
    assert owners == {"甲": "张伟", "乙": "张伟(销售二组)", "丙": "刘洋"}
    # out of 李明's reach, the other 张伟 is named as written, not as a full name shared with 李明's own rep
    again = [["姓名", "手机号", "负责人"], ["戊", "13800000045", "张伟(销售二组)"]]
    batch = imports.preview(actor=people["李明"], kind=imports.KINDS["lead"], data=xlsx(again), filename="p.xlsx")
    assert batch.problems[0]["problems"] == ["负责人「张伟(销售二组)」不在您的数据权限范围内"]
    assert batch.notices == []  # a login name nobody else is named after needs no notice
    # 周丽 (销售二组) writes 「张伟」 meaning her own rep: told whose login to write; a refused row has no notice
    rows = [["姓名", "手机号", "负责人"], ["己", "13800000046", "张伟"], ["庚", "1380000004", "张伟(销售二组)"]]
    batch = imports.preview(actor=people["周丽"], kind=imports.KINDS["lead"], data=xlsx(rows), filename="q.xlsx")
    assert batch.problems[0]["problems"] == [
        "负责人「张伟」不在您的数据权限范围内;您范围内同名的是「张伟(销售二组)」,请填写其登录名"
    ]
    assert batch.notices == []
    rows = [["姓名", "手机号", "负责人"], ["辛", "1380000004", "张伟"], ["壬", "13800000047", "张伟"]]
    batch = imports.preview(actor=people["王建国"], kind=imports.KINDS["lead"], data=xlsx(rows), filename="r.xlsx")
    assert batch.imported == 1 and batch.notices[0].startswith("负责人填「张伟」的 1 行")  # 辛's mobile is bad


def test_undo_is_refused_once_an_imported_record_was_followed_up(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    data = xlsx([["姓名", "手机号"], ["冯一", "13800000011"], ["冯二", "13800000012"]])
    batch = imports.commit(
        actor=zhang,
        batch=imports.preview(actor=zhang, kind=imports.KINDS["lead"], data=data, filename="leads.xlsx"),
    )
    lead = Lead.objects.get(name="冯一")
    assert (lead.owner, lead.status) == (zhang, LeadStatus.FOLLOWING)
    # the instants written outside the ORM read back as this moment (they put the lead under 本周新增客户)
    assert lead.owned_since is not None and abs((timezone.now() - lead.owned_since).total_seconds()) < 60
    from crm.customers.selectors import week_filter

    assert set(week_filter(Lead.objects.all(), "new").values_list("name", flat=True)) == {"冯一", "冯二"}
    FollowUp.objects.create(lead=lead, at=timezone.now(), content="电话", author=zhang)
    with pytest.raises(imports.ImportRefused) as refused:
        imports.undo(actor=zhang, batch=batch)
    assert refused.value.messages == [
        "这次导入的记录中「冯一」已有跟踪、移交或修改,不能整批撤销。导错的潜在客户可以逐条【关闭客户】。"
    ]
    assert Lead.objects.filter(import_batch=batch).count() == 2


def test_commit_checks_again_what_changed_since_the_preview(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    data = xlsx([["姓名", "手机号"], ["褚一", "13800000021"]])
    batch = imports.preview(actor=zhang, kind=imports.KINDS["lead"], data=data, filename="a.xlsx")
    assert batch.imported == 1
    Lead.objects.create(name="别人", mobile="13800000021", registered_by=zhang, owner=zhang, status="following")
    batch = imports.commit(actor=zhang, batch=batch)
    assert (batch.imported, batch.skipped) == (0, 1)
    assert "已登记为潜在客户「别人」" in batch.problems[0]["problems"][0]


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_csv_in_gbk_or_utf8_with_title_lines_and_full_width_spaces(encoding: str, people: dict[str, Any]) -> None:
    text = (
        "# 客户导出\r\n"
        "\r\n"
        "客户姓名,手机,意向等级\r\n"
        "\t蒋\u3000一 ,\t138 0000 0031,高\r\n"
        "沈二,+8613800000032,中\r\n"
        "# 合计 2 行\r\n"
    )
    zhang = people["张伟"]
    batch = imports.preview(actor=zhang, kind=imports.KINDS["lead"], data=text.encode(encoding), filename="x.csv")
    assert (batch.total, batch.imported, batch.skipped) == (2, 2, 0), batch.problems
    imports.commit(actor=zhang, batch=batch)
    assert sorted(Lead.objects.values_list("name", "mobile", "intent__label")) == [
        ("沈二", "13800000032", "中"),
        ("蒋 一", "13800000031", "高"),
    ]


def test_a_header_with_notes_is_read_and_columns_it_does_not_know_are_named(
    client_for: Any, people: dict[str, Any]
) -> None:
    text = "姓　名,性 别,手机号（必填）,【备注】,电话,客户来源(字典)\n全角一,男,13544440001,,13544440002,转介绍\n"
    table = read_table(text.encode(), "x.csv", imports.LEAD_COLUMNS)
    assert table.rows[0][1]["mobile"] == "13544440001" and table.rows[0][1]["source"] == "转介绍"
    assert table.unused == ["「【备注】」(D 列)", "「电话」(E 列)"]
    upload = {"_action": "preview", "file": SimpleUploadedFile("x.csv", text.encode())}
    r = client_for("李明").post(reverse("customers:import", args=["lead"]), upload)
    assert "文件中这些列的列名与模板不同,不会导入:「【备注】」(D 列)、「电话」(E 列)。" in r.content.decode()


def test_a_header_it_half_knows_says_what_it_lacks() -> None:
    with pytest.raises(ImportFileError) as refused:
        read_table("姓名,电话\n张三,13912345678\n".encode(), "a.csv", imports.CUSTOMER_COLUMNS)
    (message,) = refused.value.messages
    assert message == "第 1 行像是表头,但只认出了「姓名」;认不出「电话」(B 列)。请按导入模板的列名填写表头。"


@pytest.mark.parametrize("columns", ["LEAD_COLUMNS", "CUSTOMER_COLUMNS"])
def test_no_two_columns_answer_to_the_same_header(columns: str) -> None:
    names = [name for column in getattr(imports, columns) for name in column.names()]
    assert len(names) == len(set(names))


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"0" * 450_000_000)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"", "a.xlsx", "空的"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "不是表格文件"),
        (b"just some words", "a.xlsx", "内容不是 Excel"),
        (b"%PDF-1.7 \x00\x01", "名单.pdf", "「名单.pdf」不是表格文件;请上传 .xlsx、.xls 或 .csv 文件"),
        ("姓名,手机号\n张三,13912345678\n".encode(), "名单.docx", "不是表格文件"),
        (b"PK\x03\x04broken", "a.xlsx", "已损坏"),
        ("标题\n甲,乙\n1,2\n".encode(), "a.csv", "找不到表头"),
        ("姓名,手机号\n".encode(), "a.csv", "没有数据行"),
        ("姓名,手机号,电话,手机号码\n张三,13912345678,,13912345679\n".encode(), "a.csv", "第 B 列和第 D 列"),
    ],
)
def test_files_that_cannot_be_imported_say_why(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        read_table(data, filename, imports.LEAD_COLUMNS)


def test_a_zip_bomb_is_refused() -> None:
    with pytest.raises(ImportFileError, match="解压后过大"):
        read_table(_zip_bomb(), "bomb.xlsx", imports.LEAD_COLUMNS)


def test_too_many_rows_and_too_large_files(settings: Any) -> None:
    settings.CRM_IMPORT_MAX_ROWS = 3
    rows = "姓名,手机号\n" + "".join(f"人{i},1380000{i:04d}\n" for i in range(5))
    with pytest.raises(ImportFileError, match="超过 3 行"):
        read_table(rows.encode(), "a.csv", imports.LEAD_COLUMNS)
    settings.CRM_IMPORT_MAX_BYTES = 10
    with pytest.raises(ImportFileError, match="文件太大"):
        read_table(rows.encode(), "a.csv", imports.LEAD_COLUMNS)


def test_the_import_pages(client_for: Any, people: dict[str, Any]) -> None:
    li = client_for("李明")
    url = reverse("customers:import", args=["customer"])
    r = li.get(reverse("core:import_template", args=["customer"]))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    # the template itself imports (its example row is a valid customer)
    template = read_table(r.content, "t.xlsx", imports.CUSTOMER_COLUMNS)
    assert template.rows and template.rows[0][1]["name"] == "王建华"

    r = li.post(url, {"_action": "preview"})
    assert r.status_code == 422 and "请选择要导入的文件" in r.content.decode()
    r = li.post(url, {"_action": "preview", "file": SimpleUploadedFile("a.xlsx", b"nonsense")})
    assert r.status_code == 422 and "内容不是 Excel" in r.content.decode()

    data = xlsx([HEADER, *customer_rows(people)])
    r = li.post(url, {"_action": "preview", "file": SimpleUploadedFile("客户.xlsx", data)})
    assert r.status_code == 200
    page = r.content.decode()
    assert "1 行可以导入" in page and "8 行有问题" in page and "格式不对" in page
    batch = ImportBatch.objects.get(filename="客户.xlsx")
    r = li.get(reverse("core:import_problems", args=["customer", batch.pk]))
    assert r.status_code == 200
    r = li.post(url, {"_action": "commit", "batch": batch.pk})
    assert r.status_code == 200 and "已导入 1 条客户" in r.content.decode()
    assert Customer.objects.filter(name="王建华", status=CustomerStatus.FORMAL).exists()
    # someone else's batch is not found; a rep without the permission is refused
    yang = client_for("杨帆")
    assert yang.post(url, {"_action": "undo", "batch": batch.pk}).status_code == 403
    assert li.post(url, {"_action": "undo", "batch": "99999999999999"}).status_code == 404
    r = li.post(url, {"_action": "undo", "batch": batch.pk})
    assert r.status_code == 200 and not Customer.objects.filter(name="王建华").exists()
    page = r.content.decode()  # the batch as it is now
    assert 'data-testid="import-status">已撤销<' in page and 'value="undo"' not in page


@pytest.mark.parametrize("kind", ["customer", "lead"])
def test_the_template_as_downloaded_previews_with_its_example_row_refused(
    kind: str, client_for: Any, people: dict[str, Any]
) -> None:
    li = client_for("李明")
    template = li.get(reverse("core:import_template", args=[kind])).content
    r = li.post(
        reverse("customers:import", args=[kind]),
        {"_action": "preview", "file": SimpleUploadedFile("模板.xlsx", template)},
    )
    assert r.status_code == 200 and "0 行可以导入,1 行有问题" in r.content.decode()
    batch = ImportBatch.objects.get(filename="模板.xlsx", kind=kind)
    assert (batch.total, batch.imported, batch.skipped) == (1, 0, 1)
    assert batch.problems[0]["problems"] == ["这是模板中的示例行,请删除后再导入"]  # not a customer nobody registered


def test_the_rows_not_imported_download_as_typed_and_import_again_as_they_are(
    client_for: Any, people: dict[str, Any]
) -> None:
    li = client_for("李明")
    url = reverse("customers:import", args=["customer"])
    rows = [*customer_rows(people)]
    rows.insert(-1, ["冯三", 13912345690, "", "", "", "否", "1980-02-30"])  # a mobile typed as a number
    r = li.post(url, {"_action": "preview", "file": SimpleUploadedFile("客户.xlsx", xlsx([HEADER, *rows]))})
    assert r.status_code == 200
    batch = ImportBatch.objects.get(filename="客户.xlsx")
    assert (batch.imported, batch.skipped) == (1, 9)
    li.post(url, {"_action": "commit", "batch": batch.pk})
    batch.refresh_from_db()
    assert (batch.status, batch.imported, batch.skipped) == (ImportStatus.COMMITTED, 1, 9)

    r = li.get(reverse("core:import_problems", args=["customer", batch.pk]))
    assert r.status_code == 200
    sheet = read_rows(r.content, "未导入的行.xlsx")
    labels = [c.label for c in imports.CUSTOMER_COLUMNS]
    assert sheet[0] == ["行号", *labels, "问题"]  # the template's header, the line and the reasons around it
    assert [row[0] for row in sheet[1:]] == [p["line"] for p in batch.problems] == list(range(3, 12))
    by_name = {row[1]: dict(zip(sheet[0], row, strict=True)) for row in sheet[1:]}
    assert by_name["李四"]["手机号"] == "1391234567" and "格式不对" in by_name["李四"]["问题"]
    assert by_name["冯三"]["手机号"] == "13912345690"  # text, as every cell of the file
    assert (by_name["冯三"]["接收营销短信"], by_name["冯三"]["生日"]) == ("否", "1980-02-30")
    assert by_name["周九"]["客户来源"] == "朋友圈" and by_name["吴十"]["负责人"] == "杨帆"
    assert by_name["赵六"]["身份证号"] == "110101197506180013"
    assert by_name["郑一"]["身份证号"] == "1.1010119750618e+17"  # as Excel shows the number it was typed as
    assert by_name["吴十"]["问题"] == ";".join(next(p["problems"] for p in batch.problems if p["name"] == "吴十"))

    # the file as downloaded, uploaded again: the same rows, as they were typed, with the same problems
    r = li.post(url, {"_action": "preview", "file": SimpleUploadedFile("未导入的行.xlsx", r.content)})
    assert r.status_code == 200
    again = ImportBatch.objects.get(filename="未导入的行.xlsx")
    assert (again.total, again.imported, again.skipped) == (9, 0, 9)
    assert [p["values"] for p in again.problems] == [p["values"] for p in batch.problems]
    before = {p["name"]: p["problems"] for p in batch.problems}
    after = {p["name"]: p["problems"] for p in again.problems}
    assert "与第 2 行重复" in before.pop("孙八")[0] and "已登记为客户「王建华」" in after.pop("孙八")[0]
    assert "存成了数字" in before.pop("郑一")[0] and "18 位" in after.pop("郑一")[0]
    assert after == before

    # corrected where the reason says, a row imports
    fixed = [list(row) for row in sheet]
    fixed[[row[1] for row in fixed].index("李四")][4] = "13912345691"
    again = imports.preview(actor=people["李明"], kind=imports.KINDS["customer"], data=xlsx(fixed), filename="改.xlsx")
    assert (again.total, again.imported, again.skipped) == (9, 1, 8)
    assert "李四" not in {p["name"] for p in again.problems}


def test_the_rows_not_imported_of_a_batch_that_kept_no_values_still_download(
    client_for: Any, people: dict[str, Any]
) -> None:
    problems = [{"line": 3, "name": "李四", "problems": ["手机号「1391234567」格式不对"]}]
    batch = ImportBatch.objects.create(
        kind="customer",
        filename="旧.xlsx",
        created_by=people["李明"],
        total=2,
        imported=1,
        skipped=1,
        problems=problems,
    )
    r = client_for("李明").get(reverse("core:import_problems", args=["customer", batch.pk]))
    assert r.status_code == 200
    assert read_rows(r.content, "x.xlsx") == [["行号", "姓名", "问题"], [3, "李四", "手机号「1391234567」格式不对"]]


def test_a_nul_in_the_uploaded_file_name_is_dropped(people: dict[str, Any]) -> None:
    data = "姓名,手机号\n卫三,13800000051\n".encode()
    batch = imports.preview(actor=people["李明"], kind=imports.KINDS["lead"], data=data, filename="名\x00单.csv")
    assert batch.filename == "名单.csv" and batch.imported == 1


def test_an_imported_customer_s_history_says_where_it_came_from(client_for: Any, people: dict[str, Any]) -> None:
    li = people["李明"]
    data = xlsx([["姓名", "手机号", "负责人"], ["蒋一", "13800000031", "张伟"]])
    batch = imports.commit(
        actor=li, batch=imports.preview(actor=li, kind=imports.KINDS["customer"], data=data, filename="老客户.xlsx")
    )
    customer = Customer.objects.get(import_batch=batch)
    page = client_for("张伟").get(reverse("customers:customer_detail", args=[customer.pk]), {"tab": "history"})
    row = page.content.decode().split('data-testid="imported"')[1].split("</tr>")[0]
    assert "导入" in row and "李明" in row and "从文件「老客户.xlsx」导入" in row


def test_a_checked_file_is_discarded_by_its_uploader_only_and_a_refused_undo_stays_on_its_import(
    client_for: Any, people: dict[str, Any]
) -> None:
    url = reverse("customers:import", args=["lead"])
    li = client_for("李明")
    rows = [["姓名", "手机号"], ["冯一", "1380000001"]]  # a bad mobile: nothing to import
    li.post(url, {"_action": "preview", "file": SimpleUploadedFile("bad.xlsx", xlsx(rows))})
    batch = ImportBatch.objects.get(filename="bad.xlsx")
    page = li.get(url).content.decode()
    assert page.count('value="discard"') == 1  # in 最近的导入
    r = client_for("王建国").post(url, {"_action": "discard", "batch": batch.pk})
    assert r.status_code == 404 and ImportBatch.objects.filter(pk=batch.pk).exists()  # not his to see
    r = li.post(url, {"_action": "discard", "batch": batch.pk})
    assert r.status_code == 200 and "已放弃「bad.xlsx」,什么也没有导入。" in r.content.decode()
    assert not ImportBatch.objects.filter(pk=batch.pk).exists()

    good = xlsx([["姓名", "手机号"], ["冯二", "13800000012"]])
    li.post(url, {"_action": "preview", "file": SimpleUploadedFile("good.xlsx", good)})
    batch = ImportBatch.objects.get(filename="good.xlsx")
    li.post(url, {"_action": "commit", "batch": batch.pk})
    r = li.post(url, {"_action": "discard", "batch": batch.pk})
    assert r.status_code == 422 and "这次导入已经是「已导入」,不能放弃。" in r.content.decode()
    # refused, the page stays on the import it was about, with its 【撤销】 still there to read
    assert 'data-testid="import-result"' in r.content.decode() and "good.xlsx" in r.content.decode()
    assert Lead.objects.filter(name="冯二").exists()
