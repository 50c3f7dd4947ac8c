"""Logging in: the forced first change of password, the menu one sees, namesakes, the phone layout."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import (
    INITIAL_PASSWORD,
    active_pane,
    change_initial_password,
    label,
    log_in,
    log_in_first_time,
    sidebar,
)

ADMIN_ONLY = ["用户管理", "部门管理", "岗位管理", "角色管理", "数据字典", "审计日志"]


def test_rep_must_change_initial_password_then_sees_only_a_reps_menu(page: Page, app_url: str) -> None:
    log_in(page, app_url, "张伟")

    # Sent to the change-password page, with the reason explained.
    expect(page).to_have_url(re.compile(r"/CRM/self-service/password/$"))
    expect(page.get_by_text("您正在使用初始密码")).to_be_visible()

    # The home page cannot be reached before the password is changed.
    page.goto(app_url)
    expect(page).to_have_url(re.compile(r"/CRM/self-service/password/$"))
    expect(page.get_by_role("heading", name="密码修改")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("您好"))).to_have_count(0)

    change_initial_password(page)

    expect(page).to_have_url(re.compile(r"/CRM/$"))
    expect(page.get_by_role("heading", name="您好,张伟")).to_be_visible()
    expect(page.get_by_text("密码已修改。")).to_be_visible()

    menu = sidebar(page)
    expect(menu).to_be_visible()
    expect(menu.get_by_role("link", name="首页")).to_be_visible()
    expect(menu.get_by_role("button", name="系统管理")).to_be_visible()
    expect(menu.get_by_role("button", name="个人自助服务")).to_be_visible()
    expect(menu.get_by_role("link", name="密码修改")).to_be_visible()
    expect(menu.get_by_role("button", name="业务审批")).to_be_visible()
    for name in ("待办业务", "已办业务", "我的申请"):
        expect(menu.get_by_role("link", name=name)).to_be_visible()
    expect(menu.get_by_role("button", name=re.compile(r"(^|\s)客户管理$"))).to_be_visible()
    for name in ("潜在客户录入", "潜在客户跟踪", "客户登记", "客户跟踪"):
        expect(menu.get_by_role("link", name=re.compile(rf"(^|\s){name}$"))).to_be_visible()
    for name in ("本周新增客户", "本周待跟踪客户", "本周已跟客户"):
        expect(menu.get_by_role("link", name=name)).to_have_count(2)  # under leads and under customers
    expect(menu.get_by_role("button", name="会员管理")).to_be_visible()
    for name in ("消费记录", "积分流水"):
        expect(menu.get_by_role("link", name=name)).to_be_visible()
    # A rep's menu holds exactly these seventeen pages: no review, none of the administrator's, no 申请单查询.
    expect(menu.get_by_role("link")).to_have_count(17)
    for name in ("申请单查询", "潜在客户审核", "客户资料审核"):
        expect(menu.get_by_text(name)).to_have_count(0)
    for name in ADMIN_ONLY:
        expect(menu.get_by_text(name)).to_have_count(0)

    # The new password is the one that works from now on; the initial one no longer does.
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    log_in(page, app_url, "张伟", INITIAL_PASSWORD)
    expect(page.get_by_text("姓名或密码不正确")).to_be_visible()


def test_admin_sees_the_whole_system_menu(page: Page, app_url: str) -> None:
    log_in_first_time(page, app_url, "管理员")

    menu = sidebar(page)
    expect(menu.get_by_role("button", name="系统管理")).to_be_visible()
    for name in [*ADMIN_ONLY, "密码修改"]:
        expect(menu.get_by_role("link", name=name)).to_be_visible()


def test_namesakes_are_told_their_login_names(page: Page, app_url: str) -> None:
    log_in(page, app_url, "张伟", "wrong-password")

    expect(page.get_by_text("姓名或密码不正确")).to_be_visible()
    note = page.get_by_text("请用管理员分配的登录名登录")
    expect(note).to_be_visible()
    expect(note).to_contain_text("「张伟」")
    expect(note).to_contain_text("「张伟(销售二组)」")
    expect(page).to_have_url(re.compile(r"/CRM/login/$"))

    # The second 张伟 logs in with the login name the note gave, and is asked to change the password.
    log_in(page, app_url, "张伟(销售二组)")
    expect(page).to_have_url(re.compile(r"/CRM/self-service/password/$"))
    expect(page.get_by_text("您正在使用初始密码")).to_be_visible()
    expect(page.get_by_label(label("原密码"))).to_be_visible()


def test_phone_menu_is_behind_the_menu_button(phone_page: Page, app_url: str) -> None:
    page = phone_page
    log_in_first_time(page, app_url, "张伟")

    menu = sidebar(page)
    menu_link = menu.get_by_role("link", name="密码修改")
    # Collapsed: the menu is off screen until the 菜单 button is pressed.
    expect(menu_link).to_be_hidden()
    menu_button = page.get_by_role("button", name="菜单")
    expect(menu_button).to_be_visible()

    menu_button.click()
    expect(page.get_by_role("dialog", name="功能菜单")).to_be_visible()
    expect(menu_link).to_be_visible()

    menu_link.click()
    # The page opens in its own tab and the menu gets out of the way.
    expect(page.get_by_role("tab", name=re.compile("^密码修改"))).to_be_visible()
    expect(active_pane(page).get_by_role("heading", name="密码修改")).to_be_visible()
    expect(active_pane(page).get_by_label(label("新密码"))).to_be_visible()
    expect(menu_link).to_be_hidden()
