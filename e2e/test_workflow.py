"""Approval as the people in the chain do it, each in a browser of their own: 张伟 applies, 李明 (销售一组's
manager) and then 王建国 (销售部's director) approve; 〖待办业务〗's count in the menu follows; 【退回】, 【撤销】
and 【流程信息】 as they appear on the application."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from crm.workflow.models import ApproverKind
from crm.workflow.tests.conftest import make_chain

from .conftest import active_pane, label, list_count, sidebar, tab, table_rows

People = Callable[[str], Page]

SUBJECT = "采购茶叶"
RESUBMITTED = "采购茶叶(改为两箱)"
OPINION = "请写明茶叶的品种和数量"


def manager_then_director() -> None:
    """The chain of 测试申请: the applicant's department manager, then the department's director."""
    make_chain({"approver_kind": ApproverKind.DEPT_MANAGER}, {"approver_kind": ApproverKind.DIRECTOR})


# --- what a person looks at and presses ------------------------------------------------------------------


def open_from_menu(page: Page, name: str) -> None:
    sidebar(page).get_by_role("link", name=name).click()
    expect(tab(page, name)).to_have_attribute("aria-selected", "true")
    expect(active_pane(page).get_by_role("heading", name=name)).to_be_visible()


def todo_count(page: Page) -> Locator:
    """The red count beside 〖待办业务〗 in the menu (absent when there is nothing to do)."""
    return sidebar(page).get_by_role("link", name=re.compile(r"^\W*待办业务")).get_by_test_id("todo-count")


def expect_todo_count(page: Page, n: int) -> None:
    if n:
        expect(todo_count(page)).to_have_text(str(n))
    else:
        expect(todo_count(page)).to_have_count(0)


def button(page: Page, name: str) -> Locator:
    """A button of the tab being shown, by its whole label (its icon aside): 【提交】 but not 【来源数据】."""
    return active_pane(page).get_by_role("button", name=re.compile(rf"^\W*{re.escape(name)}$"))


def press(page: Page, name: str) -> None:
    button(page, name).click()


def status(page: Page) -> Locator:
    return active_pane(page).get_by_test_id("status")


def message(page: Page, text: str) -> Locator:
    return active_pane(page).get_by_role("alert").filter(has_text=text)


def new_application(page: Page, subject: str, amount: int) -> None:
    """〖我的申请〗 › 【新增测试申请】: fill 事由 and 金额 in the new tab, 【提交】."""
    open_from_menu(page, "我的申请")
    active_pane(page).get_by_role("link", name="新增测试申请").click()
    expect(tab(page, "新增测试申请")).to_have_attribute("aria-selected", "true")
    form = active_pane(page)
    expect(form.get_by_role("heading", name="新增测试申请")).to_be_visible()
    form.get_by_label(label("事由")).fill(subject)
    form.get_by_label(label("金额")).fill(str(amount))
    press(page, "提交")
    expect(message(page, "已提交。")).to_be_visible()
    expect(form.get_by_role("heading", name=subject)).to_be_visible()
    expect(status(page)).to_have_text("审批中")


def open_todo(page: Page, subject: str) -> None:
    """〖待办业务〗, then a double-click on the application's row: it opens in a tab of its own."""
    open_from_menu(page, "待办业务")
    row = table_rows(page).filter(has_text=subject)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("测试申请")
    expect(row).to_contain_text("张伟")
    row.dblclick()
    expect(active_pane(page).get_by_role("heading", name=subject)).to_be_visible()


def open_mine(page: Page, subject: str) -> None:
    """〖我的申请〗, then a double-click on the application's row (its tab, if open, comes to the front)."""
    open_from_menu(page, "我的申请")
    row = table_rows(page).filter(has_text=subject)
    expect(row).to_have_count(1)
    row.dblclick()
    expect(active_pane(page).get_by_role("heading", name=subject)).to_be_visible()


# --- the tests --------------------------------------------------------------------------------------------


def test_an_application_is_returned_resubmitted_and_approved_in_two_steps(person: People) -> None:
    manager_then_director()
    zhang = person("张伟")
    li = person("李明")
    expect_todo_count(li, 0)

    # 张伟 applies.
    new_application(zhang, SUBJECT, 300)
    expect(active_pane(zhang)).to_contain_text("1/2 第1步")
    expect(button(zhang, "撤销")).to_be_visible()

    # 李明's count goes up once his page loads again; he opens the application from 〖待办业务〗.
    li.reload()
    expect_todo_count(li, 1)
    open_todo(li, SUBJECT)
    for name in ("通过", "拒绝", "退回"):
        expect(button(li, name)).to_be_visible()

    # 李明 has opened it: 张伟, looking at it afresh from 〖我的申请〗, can no longer 【撤销】 it.
    open_mine(zhang, SUBJECT)
    expect(status(zhang)).to_have_text("审批中")
    expect(button(zhang, "提交")).to_have_count(0)
    expect(button(zhang, "撤销")).to_have_count(0)

    # 李明 returns it with an opinion; it leaves his 〖待办业务〗.
    active_pane(li).get_by_label(label("审批意见")).fill(OPINION)
    press(li, "退回")
    expect(message(li, "已退回。")).to_be_visible()
    expect(status(li)).to_have_text("草稿")
    expect(active_pane(li).get_by_text("已退回", exact=True)).to_be_visible()
    expect_todo_count(li, 0)

    # 张伟 sees it back with the opinion, changes 事由 and submits it again.
    zhang.reload()  # F5: the tabs come back and load afresh when shown
    open_mine(zhang, SUBJECT)
    pane = active_pane(zhang)
    expect(status(zhang)).to_have_text("草稿")
    expect(pane.get_by_text("已退回", exact=True)).to_be_visible()
    expect(pane.get_by_role("alert").filter(has_text="退回意见")).to_contain_text(OPINION)
    expect(pane.get_by_label(label("金额"))).to_be_disabled()  # only 事由 and 备注 may change after 【退回】
    pane.get_by_label(label("事由")).fill(RESUBMITTED)
    press(zhang, "提交")
    expect(message(zhang, "已提交。")).to_be_visible()
    expect(status(zhang)).to_have_text("审批中")
    expect(pane.get_by_role("heading", name=RESUBMITTED)).to_be_visible()

    # 李明 approves step 1; the application moves on to 王建国.
    li.reload()
    expect_todo_count(li, 1)
    open_todo(li, RESUBMITTED)
    press(li, "通过")
    expect(message(li, "已通过。")).to_be_visible()
    expect(active_pane(li)).to_contain_text("2/2 第2步")
    expect_todo_count(li, 0)

    wang = person("王建国")
    expect_todo_count(wang, 1)
    open_todo(wang, RESUBMITTED)
    press(wang, "通过")
    expect(message(wang, "已审批通过")).to_be_visible()
    expect(status(wang)).to_have_text("已通过")
    expect_todo_count(wang, 0)

    # 张伟's application is approved, and 【流程信息】 tells its whole story.
    zhang.reload()
    open_mine(zhang, RESUBMITTED)
    expect(status(zhang)).to_have_text("已通过")
    active_pane(zhang).get_by_role("link", name="流程信息").click()
    timeline = active_pane(zhang).get_by_role("region", name="流程信息")
    expect(timeline).to_contain_text("创建人:张伟")
    steps = timeline.locator("tbody tr")
    expected = [
        ("张伟", "创建", ""),
        ("张伟", "提交", ""),
        ("李明", "打开", ""),
        ("李明", "退回", OPINION),
        ("张伟", "保存", ""),
        ("张伟", "提交", ""),
        ("李明", "打开", ""),
        ("李明", "通过", ""),
        ("王建国", "打开", ""),
        ("王建国", "通过", ""),
        ("王建国", "审批通过", ""),
    ]
    expect(steps).to_have_count(len(expected))
    for row, (who, action, opinion) in zip(steps.all(), expected, strict=True):
        cells = row.get_by_role("cell")
        expect(cells.nth(2)).to_have_text(who)
        expect(cells.nth(3)).to_have_text(action)
        expect(cells.nth(4)).to_have_text(opinion)
    expect(steps.last.get_by_role("cell").nth(5)).to_have_text("已通过")


def test_an_application_no_one_has_opened_can_be_withdrawn(person: People) -> None:
    manager_then_director()
    zhang = person("张伟")
    new_application(zhang, "参加展会", 1200)
    li = person("李明")
    expect_todo_count(li, 1)

    # Before 李明 opens it, 张伟 takes it back: on a fresh page, from 〖我的申请〗. It is a draft again, his to change.
    zhang.reload()
    open_mine(zhang, "参加展会")
    press(zhang, "撤销")
    expect(message(zhang, "已撤销。")).to_be_visible()
    expect(status(zhang)).to_have_text("草稿")
    expect(active_pane(zhang).get_by_label(label("事由"))).to_be_editable()
    expect(button(zhang, "提交")).to_be_visible()

    li.reload()
    expect_todo_count(li, 0)
    open_from_menu(li, "待办业务")
    expect(list_count(li)).to_contain_text("共 0 条")


def test_refusals_are_shown_on_the_application(person: People) -> None:
    manager_then_director()
    zhang = person("张伟")
    new_application(zhang, SUBJECT, 300)
    open_mine(zhang, SUBJECT)
    expect(button(zhang, "撤销")).to_be_visible()
    li = person("李明")
    open_todo(li, SUBJECT)

    # 【退回】 needs an opinion.
    press(li, "退回")
    expect(message(li, "必须填写审批意见")).to_be_visible(timeout=3_000)
    expect(status(li)).to_have_text("审批中")

    # The 【撤销】 still on 张伟's screen since before 李明 opened it is refused, saying why.
    press(zhang, "撤销")
    refusal = message(zhang, "不能再撤销")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("李明")
    expect(status(zhang)).to_have_text("审批中")


def test_save_then_submit_makes_one_application(person: People) -> None:
    manager_then_director()
    zhang = person("张伟")
    open_from_menu(zhang, "我的申请")
    active_pane(zhang).get_by_role("link", name="新增测试申请").click()
    form = active_pane(zhang)
    form.get_by_label(label("事由")).fill(SUBJECT)
    form.get_by_label(label("金额")).fill("300")
    press(zhang, "保存")
    expect(message(zhang, "已保存。")).to_be_visible()
    press(zhang, "提交")
    expect(message(zhang, "已提交。")).to_be_visible()
    expect(status(zhang)).to_have_text("审批中")

    tab(zhang, "我的申请").click()
    expect(list_count(zhang)).to_contain_text("共 1 条", timeout=3_000)
    open_mine(zhang, SUBJECT)
    expect(status(zhang)).to_have_text("审批中")
    expect(active_pane(zhang).get_by_label(label("事由"))).to_have_value(SUBJECT)  # its own field, not a copy's

    # 【新增测试申请】 again gives a blank form, not the application just submitted.
    tab(zhang, "我的申请").click()
    active_pane(zhang).get_by_role("link", name="新增测试申请").click()
    expect(active_pane(zhang).get_by_role("heading", name="新增测试申请")).to_be_visible()
    expect(active_pane(zhang).get_by_label(label("事由"))).to_have_value("")


def test_the_administrator_hands_a_leaver_s_approvals_to_a_colleague(person: People) -> None:
    manager_then_director()
    zhang = person("张伟")
    new_application(zhang, SUBJECT, 300)  # waits for 李明

    admin = person("管理员")
    open_from_menu(admin, "用户管理")
    table_rows(admin).filter(has=admin.get_by_role("cell", name="李明", exact=True)).dblclick()
    expect(tab(admin, "李明")).to_have_attribute("aria-selected", "true")
    work = active_pane(admin).get_by_test_id("hand-over")
    expect(work).to_contain_text("「李明」有 1 项待办")
    work.get_by_label(label("接替人")).select_option(label="周丽(销售二组)")
    asked: list[str] = []
    admin.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    work.get_by_role("button", name="转交待办").click()
    expect(message(admin, "1 张待审批的申请单已转交给「周丽」。")).to_be_visible()
    assert asked == ["确定把「李明」的待办转交给所选的同事吗?"]
    expect(active_pane(admin).get_by_test_id("hand-over")).to_have_count(0)

    zhou = person("周丽")
    expect_todo_count(zhou, 1)
    open_todo(zhou, SUBJECT)
    expect(button(zhou, "通过")).to_be_visible()


def test_a_manager_approves_a_page_of_applications_at_once(person: People) -> None:
    manager_then_director()
    zhang = person("张伟")
    for subject, amount in (("采购茶叶", 300), ("采购红酒", 800), ("采购雪茄", 500)):
        new_application(zhang, subject, amount)

    li = person("李明")
    expect_todo_count(li, 3)
    open_from_menu(li, "待办业务")
    rows = table_rows(li)
    expect(rows).to_have_count(3)
    # nothing ticked: no question asked, the page says what is missing
    asked: list[str] = []
    li.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    press(li, "批量通过")
    expect(message(li, "请先勾选要批量通过的行。")).to_be_visible()
    assert asked == []
    # Enter on a tick box, like a double click on it, opens nothing
    rows.filter(has_text="采购雪茄").get_by_role("checkbox").focus()
    li.keyboard.press("Enter")
    expect(tab(li, "采购雪茄")).to_have_count(0)
    # ticks two of the three, double-clicking a tick box opens nothing
    for subject in ("采购茶叶", "采购红酒"):
        rows.filter(has_text=subject).get_by_role("checkbox").dblclick()
    expect(tab(li, "采购茶叶")).to_have_count(0)  # no application opened
    for subject in ("采购茶叶", "采购红酒"):  # a double click ticks and unticks
        expect(rows.filter(has_text=subject).get_by_role("checkbox")).not_to_be_checked()
    for subject in ("采购茶叶", "采购红酒"):
        rows.filter(has_text=subject).get_by_role("checkbox").check()
    active_pane(li).get_by_label(label("审批意见")).fill("同意")
    press(li, "批量通过")
    expect(message(li, "已通过 2 张申请单。")).to_be_visible()
    assert asked == ["对勾选的申请单逐张【通过】?"]
    expect(table_rows(li)).to_have_count(1)
    expect(table_rows(li)).to_contain_text("采购雪茄")
    expect_todo_count(li, 1)

    # 全选本页 ticks what is left, and shows when a row is unticked
    tick_all = active_pane(li).get_by_role("checkbox", name="全选本页")
    tick_all.check()
    expect(table_rows(li).get_by_role("checkbox")).to_be_checked()
    table_rows(li).get_by_role("checkbox").uncheck()
    expect(tick_all).not_to_be_checked()

    # they wait for 王建国 now, with 李明's opinion in 【流程信息】
    wang = person("王建国")
    expect_todo_count(wang, 2)
    open_todo(wang, "采购红酒")
    active_pane(wang).get_by_role("link", name="流程信息").click()
    timeline = active_pane(wang).get_by_role("region", name="流程信息")
    expect(timeline.locator("tbody tr").filter(has_text="李明").filter(has_text="通过")).to_contain_text("同意")
