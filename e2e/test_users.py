"""User management as the administrator does it: the list in a tab, 【新增】, double-click to open a person."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import active_pane, label, list_count, log_in_first_time, sidebar, tab, table_rows


def open_user_list(page: Page) -> None:
    sidebar(page).get_by_role("link", name="用户管理").click()
    expect(tab(page, "用户管理")).to_have_attribute("aria-selected", "true")
    expect(active_pane(page).get_by_role("heading", name="用户管理")).to_be_visible()
    expect(list_count(page)).to_contain_text("共 13 条")


def test_admin_adds_a_user_who_then_appears_in_the_list(page: Page, app_url: str) -> None:
    log_in_first_time(page, app_url, "管理员")
    open_user_list(page)
    expect(table_rows(page).filter(has_text="郑晓东")).to_have_count(0)

    active_pane(page).get_by_role("link", name="新增").click()
    expect(tab(page, "新增用户")).to_have_attribute("aria-selected", "true")
    form = active_pane(page)
    expect(form.get_by_role("heading", name="新增用户")).to_be_visible()

    form.get_by_label(label("姓名")).fill("郑晓东")
    form.get_by_label(label("部门")).select_option(label="销售一组")
    form.get_by_role("checkbox", name="业务员", exact=True).check()
    form.get_by_role("button", name="保存").click()

    message = form.get_by_role("alert").filter(has_text="已创建")
    expect(message).to_be_visible()
    expect(message).to_contain_text("用户「郑晓东」已创建")
    expect(message).to_contain_text("登录名「郑晓东」")
    expect(message).to_contain_text("初始密码 123456")
    # The tab now holds the saved person, ready for further editing.
    expect(form.get_by_role("heading", name=re.compile("^郑晓东"))).to_be_visible()
    expect(form.get_by_role("button", name="重置密码")).to_be_visible()

    # Back in the list, which refreshed itself when the person was saved.
    tab(page, "用户管理").click()
    expect(list_count(page)).to_contain_text("共 14 条")
    row = table_rows(page).filter(has_text="郑晓东")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("销售一组")
    expect(row).to_contain_text("业务员")


def test_double_click_opens_the_person_in_a_new_tab(page: Page, app_url: str) -> None:
    log_in_first_time(page, app_url, "管理员")
    open_user_list(page)

    row = table_rows(page).filter(has=page.get_by_role("cell", name="刘洋", exact=True))
    expect(row).to_have_count(1)
    row.dblclick()

    expect(tab(page, "刘洋")).to_have_attribute("aria-selected", "true")
    expect(tab(page, "用户管理")).to_have_attribute("aria-selected", "false")
    detail = active_pane(page)
    expect(detail.get_by_role("heading", name=re.compile("^刘洋"))).to_be_visible()
    expect(detail.get_by_label(label("姓名"))).to_have_value("刘洋")
    expect(detail.get_by_label(label("登录名"))).to_have_value("刘洋")
    expect(detail.get_by_label(label("部门")).locator("option:checked")).to_have_text("销售一组")
    expect(detail.get_by_role("button", name="保存")).to_be_visible()


def test_labels_of_a_form_belong_to_its_own_tab(page: Page, app_url: str) -> None:
    """Every tab shares one document: a label must name the field of its own form, not a hidden one."""
    log_in_first_time(page, app_url, "管理员")
    open_user_list(page)
    active_pane(page).get_by_role("link", name="新增").click()
    form = active_pane(page)
    expect(form.get_by_role("heading", name="新增用户")).to_be_visible()

    expect(form.get_by_label(label("部门"))).to_have_count(1, timeout=2_000)
    expect(form.get_by_role("checkbox", name="在用")).to_have_count(1, timeout=2_000)


def test_a_refused_form_shows_its_errors_next_to_the_fields(page: Page, app_url: str) -> None:
    """A 422 answer is swapped in like any other: the person sees why, beside the field."""
    log_in_first_time(page, app_url, "管理员")
    open_user_list(page)
    active_pane(page).get_by_role("link", name="新增").click()
    form = active_pane(page)
    expect(form.get_by_role("heading", name="新增用户")).to_be_visible()
    form.get_by_label(label("手机号")).fill("12345")
    form.get_by_role("button", name="保存").click()
    expect(form.get_by_text("手机号应为 11 位数字")).to_be_visible()
    expect(form.get_by_text("这个字段是必填项。").first).to_be_visible()
    expect(form.get_by_label(label("手机号"))).to_have_value("12345")  # what was typed is kept


def test_a_namesake_is_created_only_at_the_second_save(page: Page, app_url: str) -> None:
    log_in_first_time(page, app_url, "管理员")
    open_user_list(page)
    active_pane(page).get_by_role("link", name="新增").click()
    form = active_pane(page)
    form.get_by_label(label("姓名")).fill("刘洋")
    form.get_by_label(label("部门")).select_option(label="销售一组")
    form.get_by_role("button", name="保存").click()

    warning = form.get_by_text("已有同名用户:刘洋")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("登录名「刘洋」")
    expect(form.get_by_role("alert").filter(has_text="已创建")).to_have_count(0)

    form.get_by_role("button", name="保存").click()  # another 刘洋 indeed
    message = form.get_by_role("alert").filter(has_text="已创建")
    expect(message).to_contain_text("登录名「刘洋(销售一组)」")
    tab(page, "用户管理").click()
    expect(list_count(page)).to_contain_text("共 14 条")
