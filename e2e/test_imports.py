"""【导入】 of customers whose commit and undo run in the background, as 李明 walks it: from 〖客户跟踪〗 he opens
〖导入客户〗, uploads a spreadsheet, reads the check (three good rows, one with a wrong mobile), 【确认导入】s it and
watches the page say it is importing in the background; once the task worker has run, the same page — not
reloaded, it asks again every second — shows the result, and 【撤销这次导入】 goes the same way."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import xlsxwriter
from django.core.management import call_command
from playwright.sync_api import Dialog, Page, Response, Route, expect

from .conftest import active_pane
from .test_customers import button, link, message, open_from_menu

People = Callable[[str], Page]

HEADER = ["姓名", "手机号码", "身份证号", "客户来源", "负责人", "接收营销短信", "生日"]
GOOD = [
    ["柏文轩", "13912340001", "", "转介绍", "刘洋", "是", "1975-06-18"],
    ["柏雨桐", "13912340002", "", "转介绍", "刘洋", "否", ""],
    ["柏子墨", "13912340003", "", "转介绍", "刘洋", "是", "1988-02-29"],
]
BAD = ["柏错号", "1391234000", "", "转介绍", "刘洋", "是", ""]  # ten digits
NAMES = tuple(row[0] for row in GOOD)
FILENAME = "新会员名单.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list[str]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("客户")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value:
                sheet.write_string(r, c, value)
    book.close()
    return buffer.getvalue()


APP = re.compile(r"/CRM/(?!static/)")  # the app's pages, not its static files
POLL = re.compile(r"/CRM/import/customer/\?batch=\d+&part=batch&watch=")


def hold_requests(page: Page) -> None:
    """Let the page's requests reach the server only while the test waits on the browser.

    The test database is SQLite in memory, shared (shared cache) by the test's thread and the live server's
    threads, each with a connection of its own: while one connection writes a table, another reading it fails
    at once with "database table is locked". A route handler runs only while the test is inside a Playwright
    call, so a request the page sends while the worker runs in the test's thread waits for the worker."""

    def go_on(route: Route) -> None:
        route.continue_()

    page.route(APP, go_on)


def run_worker(page: Page) -> None:
    """What ``manage.py db_worker`` does in production: run the tasks queued so far, then stop. First wait for an
    answer to the page's polling, so that no request is being served when it starts (see ``hold_requests``)."""
    with page.expect_response(POLL):
        pass
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def customers(names: tuple[str, ...] = NAMES) -> Any:
    """The customers of those names in the database (the live server's, shared with the test)."""
    from crm.customers.models import Customer

    return Customer.objects.filter(name__in=names)


def imported() -> int:
    return customers().count()


def test_a_big_import_is_committed_and_undone_in_the_background(person: People, settings: Any) -> None:
    settings.CRM_IMPORT_BACKGROUND_ROWS = 1  # even these four rows are "big": commit and undo go to the worker

    # 李明 opens 〖客户跟踪〗 from the menu and presses 【导入】: the page 〖导入客户〗.
    li = person("李明")
    failed: list[str] = []

    def server_error(response: Response) -> None:
        if response.status >= 500:
            failed.append(f"{response.status} {response.request.method} {response.url}")

    li.on("response", server_error)
    hold_requests(li)
    open_from_menu(li, "客户跟踪")
    link(li, "导入").click()
    pane = active_pane(li)
    expect(pane.get_by_role("heading", name="导入客户", exact=True)).to_be_visible()

    # He uploads the file: the check lists the row that will not be imported, and nothing is written yet.
    pane.get_by_label("文件(.xlsx、.xls、.csv)").set_input_files(
        files=[{"name": FILENAME, "mimeType": XLSX, "buffer": workbook([HEADER, *GOOD, BAD])}]
    )
    button(li, "上传并检查").click()
    result = pane.get_by_test_id("import-result")
    expect(result).to_contain_text("共 4 行数据:3 行可以导入,1 行有问题(不导入)。")
    expect(result.get_by_test_id("import-status")).to_have_text("待确认")
    problem = result.get_by_test_id("import-problems").locator("tbody tr")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("5")  # the header is line 1: the fourth data row is line 5
    expect(problem).to_contain_text("柏错号")
    expect(problem).to_contain_text("手机号「1391234000」格式不对")
    assert imported() == 0

    # 【确认导入 3 行】: the page says it is importing in the background; nothing is written until the worker runs.
    button(li, "确认导入 3 行").click()
    progress = pane.get_by_test_id("import-progress")
    expect(progress).to_contain_text("正在后台导入")
    expect(progress).to_contain_text("排队等待后台处理")
    expect(button(li, "确认导入 3 行")).to_have_count(0)
    expect(pane.get_by_test_id("import-recent").locator("tbody tr").filter(has_text=FILENAME)).to_contain_text(
        "后台处理中"
    )
    assert imported() == 0

    # The worker runs; the page, asking every second, shows the result without being reloaded.
    run_worker(li)
    expect(message(li, "已导入 3 条客户;1 行未导入。")).to_be_visible()
    expect(button(li, "撤销这次导入")).to_be_visible()
    expect(progress).to_have_count(0)
    expect(result.get_by_test_id("import-status")).to_have_text("已导入")
    expect(result).to_contain_text("共 4 行数据:已导入 3 行,1 行未导入。")
    expect(pane.get_by_role("heading", name="最近的导入")).to_be_visible()
    recent = pane.get_by_test_id("import-recent").locator("tbody tr").filter(has_text=FILENAME)
    expect(recent).to_have_count(1)
    expect(recent.locator("td").nth(2)).to_have_text("已导入")
    expect(recent.locator("td").nth(3)).to_have_text("3")
    expect(recent.locator("td").nth(4)).to_have_text("1")
    written = customers().select_related("owner", "source")
    assert sorted(c.name for c in written) == sorted(NAMES)
    assert {(c.owner.username, c.source.label if c.source else "") for c in written} == {("刘洋", "转介绍")}
    assert not customers((BAD[0],)).exists()

    # 【撤销这次导入】 asks first: answered 取消, nothing happens; answered 确定, it goes to the background too, and
    # once the worker has run, the customers are gone.
    asked: list[str] = []

    def answer(accept: bool) -> Callable[[Dialog], None]:
        def reply(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return reply

    li.once("dialog", answer(False))
    button(li, "撤销这次导入").click()
    expect(result.get_by_test_id("import-status")).to_have_text("已导入")
    assert asked == ["撤销会删除这次导入写入的全部记录,确定吗?"] and imported() == 3
    li.once("dialog", answer(True))
    button(li, "撤销这次导入").click()
    expect(progress).to_contain_text("正在后台撤销")
    expect(button(li, "撤销这次导入")).to_have_count(0)
    assert imported() == 3
    run_worker(li)
    expect(message(li, "已撤销这次导入,删除了 3 条记录")).to_be_visible()
    expect(progress).to_have_count(0)
    expect(result.get_by_test_id("import-status")).to_have_text("已撤销")
    expect(recent.locator("td").nth(2)).to_have_text("已撤销")
    expect(button(li, "撤销这次导入")).to_have_count(0)
    assert imported() == 0
    assert failed == []
