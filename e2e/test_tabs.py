"""The tabbed main area: each tab keeps its own search, tabs close, 【重置】 clears a search."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import active_pane, label, list_count, log_in_first_time, sidebar, tab, table_rows


def search_users(page: Page, text: str) -> None:
    pane = active_pane(page)
    pane.get_by_label(label("姓名或登录名")).fill(text)
    pane.get_by_role("button", name="查询").click()


def open_from_menu(page: Page, name: str) -> None:
    sidebar(page).get_by_role("link", name=re.compile(rf"(^|\s){re.escape(name)}(\s+\d+)?$")).click()
    expect(tab(page, name)).to_have_attribute("aria-selected", "true")
    expect(active_pane(page).get_by_role("heading", name=name)).to_be_visible()


def test_a_tab_keeps_its_search_while_another_is_used(page: Page, app_url: str) -> None:
    log_in_first_time(page, app_url, "管理员")
    open_from_menu(page, "用户管理")
    expect(list_count(page)).to_contain_text("共 13 条")

    search_users(page, "张伟")
    expect(list_count(page)).to_contain_text("共 2 条")
    expect(table_rows(page)).to_have_count(2)
    for row in table_rows(page).all():
        expect(row).to_contain_text("张伟")

    open_from_menu(page, "审计日志")
    expect(tab(page, "用户管理")).to_have_attribute("aria-selected", "false")
    expect(active_pane(page).get_by_label(label("姓名或登录名"))).to_have_count(0)

    tab(page, "用户管理").click()
    expect(tab(page, "用户管理")).to_have_attribute("aria-selected", "true")
    pane = active_pane(page)
    expect(pane.get_by_role("heading", name="用户管理")).to_be_visible()
    expect(pane.get_by_label(label("姓名或登录名"))).to_have_value("张伟")
    expect(list_count(page)).to_contain_text("共 2 条")
    expect(table_rows(page)).to_have_count(2)
    expect(table_rows(page).filter(has_text="刘洋")).to_have_count(0)

    audit_tab = tab(page, "审计日志")
    expect(audit_tab).to_be_visible()
    audit_tab.get_by_role("button", name="关闭 审计日志").click()
    expect(audit_tab).to_have_count(0)
    expect(page.get_by_role("tab")).to_have_count(2)  # 首页 and 用户管理 remain
    # The tab being shown is untouched by closing another one.
    expect(tab(page, "用户管理")).to_have_attribute("aria-selected", "true")
    expect(active_pane(page).get_by_label(label("姓名或登录名"))).to_have_value("张伟")


def test_reset_clears_the_search_and_shows_everyone(page: Page, app_url: str) -> None:
    log_in_first_time(page, app_url, "管理员")
    open_from_menu(page, "用户管理")
    pane = active_pane(page)

    pane.get_by_label(label("部门")).select_option(label="销售二组")
    search_users(page, "张伟")
    expect(list_count(page)).to_contain_text("共 1 条")
    expect(table_rows(page)).to_have_count(1)
    expect(table_rows(page)).to_contain_text("张伟(销售二组)")

    pane.get_by_role("button", name="重置").click()

    expect(pane.get_by_label(label("姓名或登录名"))).to_have_value("")
    expect(pane.get_by_label(label("部门"))).to_have_value("")
    expect(list_count(page)).to_contain_text("共 13 条")
    expect(table_rows(page)).to_have_count(13)
    expect(table_rows(page).filter(has_text="刘洋")).to_have_count(1)


def test_export_saves_the_file_and_a_condition_in_error_is_said_in_the_tab(page: Page, app_url: str) -> None:
    log_in_first_time(page, app_url, "管理员")
    open_from_menu(page, "客户跟踪")
    pane = active_pane(page)
    pane.get_by_label(label("手机号")).fill("138")
    export = pane.get_by_role("link", name="导出")
    export.click()
    expect(pane.get_by_role("alert").filter(has_text="查询条件有误,没有导出")).to_contain_text(
        "手机号:请输入手机号中连续的至少 4 位数字。"
    )
    expect(pane.get_by_label(label("手机号"))).to_have_value("138")  # the page stays, with what was typed
    expect(tab(page, "客户跟踪")).to_have_attribute("aria-selected", "true")

    pane.get_by_label(label("手机号")).fill("1380")
    with page.expect_download() as download:
        export.click()
    assert download.value.suggested_filename.startswith("客户跟踪_")
    assert download.value.suggested_filename.endswith(".xlsx")
    expect(pane.get_by_role("alert").filter(has_text="查询条件有误")).to_have_count(0)
