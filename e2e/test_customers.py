"""The seed's customer flow as the demo people walk it, each in a browser of their own (the same flow as
crm/customers/tests/test_flow.py, through the screens): 陈静 registers a lead, 王建国 and 李明 【分配】 it down to
张伟, who follows it up, 【转客户】s it, and — once 李明 and 王建国 have approved the registration — fills in the
profile; 张伟 【移交】s the customer, 李明 【分配】s it to 刘洋."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect

from .conftest import active_pane, label, sidebar, tab, table_rows

People = Callable[[str], Page]

NAME = "钱多多"
MOBILE = "13912345678"
ID_NUMBER = "110101198001010053"  # MOD 11-2 check digit 3
LEAD_TITLE = f"潜在客户:{NAME}"
REGISTRATION_TITLE = f"客户登记:{NAME}"
FOLLOWUP = "电话沟通,对会籍感兴趣"


# --- what a person looks at and presses ------------------------------------------------------------------


def menu_link(page: Page, name: str, under: str | None = None) -> Locator:
    """A page in the menu by its label (a count beside it aside); ``under`` names the menu node it is listed
    under, for the labels that appear twice (本周新增客户 under 潜在客户跟踪 and under 客户跟踪)."""
    menu = sidebar(page)
    if under is not None:
        group = menu.get_by_role("button", name=under, exact=True).get_attribute("aria-controls")
        menu = menu.locator(f"#{group}")
    return menu.get_by_role("link", name=re.compile(rf"(^|\s){re.escape(name)}(\s+\d+)?$"))


def open_from_menu(page: Page, name: str, under: str | None = None) -> Locator:
    """〖name〗 from the menu; its tab comes to the front. Returns the list's rows."""
    menu_link(page, name, under).click()
    pane = active_pane(page)
    expect(pane.get_by_role("heading", name=name, exact=True)).to_be_visible()
    if under is None:
        expect(tab(page, name)).to_have_attribute("aria-selected", "true")
    return table_rows(page)


def badge(page: Page, name: str) -> Locator:
    """The red count beside a page of the menu."""
    return menu_link(page, name).locator(".badge")


def button(page: Page, name: str) -> Locator:
    """A button of the tab being shown, by its whole label (its icon aside)."""
    return active_pane(page).get_by_role("button", name=re.compile(rf"(^|\s){re.escape(name)}$"))


def link(page: Page, name: str) -> Locator:
    """A link of the tab being shown, by its whole label (its icon aside): 【新增】, 【转客户】."""
    return active_pane(page).get_by_role("link", name=re.compile(rf"(^|\s){re.escape(name)}$"))


def message(page: Page, text: str) -> Locator:
    return active_pane(page).get_by_role("alert").filter(has_text=text)


def field(scope: Locator, name: str) -> Locator:
    return scope.get_by_label(label(name))


def open_row(page: Page, text: str) -> Locator:
    """Double-click the one row of the list being shown that holds ``text``; returns the pane it opens."""
    row = table_rows(page).filter(has_text=text)
    expect(row).to_have_count(1)
    row.dblclick()
    return active_pane(page)


def record_tab(page: Page, name: str) -> Locator:
    """Open a tab of the record being shown (基本信息, 跟踪记录 …) and return its panel."""
    pane = active_pane(page)
    pane.get_by_role("tab", name=re.compile(rf"^{re.escape(name)}(\s+\d+)?$")).click()
    panel = pane.get_by_role("tabpanel")  # only the panel shown is in the accessibility tree
    expect(panel).to_have_count(1)
    return panel


def approve(
    page: Page,
    list_name: str,
    title: str,
    action: str,
    opinion: str,
    done: str | re.Pattern[str],
    assign_to: str | None = None,
) -> None:
    """Open the application from 〖list_name〗, write an opinion, name whom it goes to, press 【action】; the
    tab says ``done``."""
    open_from_menu(page, list_name)
    pane = open_row(page, title)
    expect(pane.get_by_role("heading", name=title)).to_be_visible()
    field(pane, "审批意见").fill(opinion)
    if assign_to is not None:
        field(pane, "分配给").select_option(label=assign_to)
    button(page, action).click()
    expect(message(page, done)).to_be_visible()


def later_this_week() -> str:
    """Tomorrow if it still belongs to this week (Monday to Sunday, in Shanghai), else today: Sunday."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    sunday = today + timedelta(days=6 - today.weekday())
    return min(today + timedelta(days=1), sunday).isoformat()


# --- the test ----------------------------------------------------------------------------------------------


def test_a_lead_is_assigned_followed_converted_and_the_customer_handed_over(person: People) -> None:
    # 1. 陈静 (客服) registers a lead in 〖潜在客户录入〗 and submits it for assignment.
    chen = person("陈静")
    open_from_menu(chen, "潜在客户录入")
    link(chen, "新增").click()
    form = active_pane(chen)
    expect(form.get_by_role("heading", name="新增潜在客户")).to_be_visible()
    field(form, "姓名").fill(NAME)
    field(form, "性别").select_option(label="男")
    field(form, "手机号").fill(MOBILE)
    field(form, "公司").fill("多多投资")
    field(form, "客户来源").select_option(label="转介绍")
    field(form, "意向等级").select_option(label="高")
    button(chen, "提交").click()
    expect(message(chen, "已提交。")).to_be_visible()
    expect(form.get_by_role("heading", name=LEAD_TITLE)).to_be_visible()
    expect(form.get_by_test_id("status")).to_have_text("审批中")
    tab(chen, "潜在客户录入").click()
    expect(table_rows(chen).filter(has_text=NAME)).to_contain_text("审批中")

    # 2. 王建国 (销售总监) sees it waiting and 【分配】s it to 李明.
    wang = person("王建国")
    expect(badge(wang, "待办业务")).to_have_text("1")
    expect(badge(wang, "潜在客户审核")).to_have_text("1")
    approve(wang, "潜在客户审核", LEAD_TITLE, "分配", "请李明安排", "已分配给李明。", assign_to="李明")
    expect(badge(wang, "待办业务")).to_have_count(0)

    # 3. 李明 (销售一组's manager) 【分配】s it to 张伟, from 〖待办业务〗.
    li = person("李明")
    expect(badge(li, "待办业务")).to_have_text("1")
    approve(
        li, "待办业务", LEAD_TITLE, "分配", "张伟跟进", f"「{LEAD_TITLE}」已审批通过。已分配给张伟。", assign_to="张伟"
    )
    expect(badge(li, "待办业务")).to_have_count(0)

    # 4. 张伟 finds it under 本周新增客户 and adds a follow-up with the next one due later this week.
    zhang = person("张伟")
    rows = open_from_menu(zhang, "本周新增客户", under="潜在客户跟踪")
    expect(rows.filter(has_text=NAME)).to_contain_text("跟踪中")
    lead = open_row(zhang, NAME)
    expect(lead.get_by_role("heading", name=NAME)).to_be_visible()
    expect(lead.get_by_test_id("owner")).to_have_text("张伟")
    panel = record_tab(zhang, "跟踪记录")
    next_on = later_this_week()
    field(panel, "跟踪方式").select_option(label="电话")
    field(panel, "跟踪内容").fill(FOLLOWUP)
    field(panel, "意向等级").select_option(label="高")
    field(panel, "下次跟踪日期").fill(next_on)
    button(zhang, "添加跟踪记录").click()
    expect(message(zhang, "跟踪记录已保存。")).to_be_visible()
    panel = active_pane(zhang).get_by_role("tabpanel")
    record = panel.get_by_test_id("followups").locator("tbody tr").filter(has_text=FOLLOWUP)
    expect(record).to_contain_text(next_on)
    expect(record).to_contain_text("张伟")
    expect(active_pane(zhang).get_by_role("tab", name="跟踪记录 1")).to_be_visible()
    for week in ("本周待跟踪客户", "本周已跟客户"):
        rows = open_from_menu(zhang, week, under="潜在客户跟踪")
        expect(rows.filter(has_text=NAME)).to_have_count(1)

    # 5. 【转客户】 on the lead: the registration opens pre-filled; 张伟 adds the ID number and a hobby and submits.
    open_from_menu(zhang, "本周新增客户", under="潜在客户跟踪")
    lead = open_row(zhang, NAME)
    expect(lead.get_by_test_id("lead-detail")).to_be_visible()
    link(zhang, "转客户").click()
    expect(tab(zhang, "新增客户登记")).to_have_attribute("aria-selected", "true")
    form = active_pane(zhang)
    expect(form.get_by_role("heading", name="新增客户登记")).to_be_visible()
    expect(field(form, "姓名")).to_have_value(NAME)
    expect(field(form, "手机号")).to_have_value(MOBILE)
    expect(field(form, "公司")).to_have_value("多多投资")
    field(form, "身份证号").fill(ID_NUMBER)
    form.get_by_label("高尔夫", exact=True).check()
    button(zhang, "提交").click()
    expect(message(zhang, "已提交。")).to_be_visible()
    expect(form.get_by_role("heading", name=REGISTRATION_TITLE)).to_be_visible()
    expect(form.get_by_test_id("status")).to_have_text("审批中")

    # 6. 李明 reviews it (【提交】), 王建国 approves it (【通过】).
    li.reload()
    expect(badge(li, "客户资料审核")).to_have_text("1")
    approve(li, "客户资料审核", REGISTRATION_TITLE, "提交", "资料齐全", "已提交。")
    expect(active_pane(li)).to_contain_text("2/2 总监审批")
    wang.reload()
    expect(badge(wang, "待办业务")).to_have_text("1")
    open_from_menu(wang, "待办业务")
    pane = open_row(wang, REGISTRATION_TITLE)
    field(pane, "审批意见").fill("同意")
    button(wang, "通过").click()
    expect(message(wang, "已审批通过")).to_be_visible()
    expect(badge(wang, "待办业务")).to_have_count(0)

    # 7. 张伟 opens the customer from 〖客户跟踪〗 and fills in 房产 and 车辆; 兴趣爱好 holds 高尔夫.
    zhang.reload()
    rows = open_from_menu(zhang, "客户跟踪")
    expect(rows.filter(has_text=NAME)).to_contain_text("JSH")
    customer = open_row(zhang, NAME)
    expect(customer.get_by_test_id("customer-detail")).to_be_visible()
    expect(customer.get_by_test_id("status")).to_have_text("正式客户")
    expect(customer.get_by_test_id("card-no")).to_have_text(re.compile(r"^JSH\d{4}"))

    panel = record_tab(zhang, "房产")
    field(panel, "小区").fill("汤臣一品")
    field(panel, "区县").fill("浦东")
    field(panel, "建筑面积(㎡)").fill("320")
    field(panel, "用途").select_option(label="自住")
    button(zhang, "保存房产信息").click()
    expect(message(zhang, "房产信息已保存。")).to_be_visible()
    panel = active_pane(zhang).get_by_role("tabpanel")
    expect(field(panel, "小区").first).to_have_value("汤臣一品")

    panel = record_tab(zhang, "车辆")
    field(panel, "品牌").fill("保时捷")
    field(panel, "车型").fill("Cayenne")
    field(panel, "车牌").fill("沪A·D1234")
    button(zhang, "保存车辆信息").click()
    expect(message(zhang, "车辆信息已保存。")).to_be_visible()
    panel = active_pane(zhang).get_by_role("tabpanel")
    expect(field(panel, "品牌").first).to_have_value("保时捷")

    panel = record_tab(zhang, "兴趣爱好")
    expect(panel.get_by_label("高尔夫", exact=True)).to_be_checked()
    expect(panel.get_by_label("红酒", exact=True)).not_to_be_checked()
    panel = record_tab(zhang, "房产")
    expect(field(panel, "小区").first).to_have_value("汤臣一品")

    # 8. 刘洋, the other rep of 销售一组, does not see it.
    liu = person("刘洋")
    open_from_menu(liu, "客户跟踪")
    expect(table_rows(liu).filter(has_text=NAME)).to_have_count(0)

    # 9. 张伟 【移交】s it to his manager: it is no longer his, and his tab says so. 李明 【分配】s it to 刘洋.
    field(active_pane(zhang), "移交原因").fill("客户希望由刘洋对接")
    asked: list[str] = []
    zhang.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    button(zhang, "移交").click()
    expect(message(zhang, f"「{NAME}」已移交给李明,等待重新分配。")).to_be_visible()
    expect(active_pane(zhang)).to_contain_text("该记录已不在您的负责范围内")
    expect(button(zhang, "移交")).to_have_count(0)
    assert asked == [f"移交后「{NAME}」交由上级重新分配,您将不能再查看和跟进。确定移交吗?"]

    li.reload()
    open_from_menu(li, "客户跟踪")
    customer = open_row(li, NAME)
    expect(customer.get_by_role("heading", name=NAME)).to_be_visible()
    expect(customer.get_by_test_id("status")).to_have_text("待重新分配")
    expect(customer.get_by_test_id("owner")).to_have_text("李明")
    field(customer, "分配给").select_option(label="刘洋")
    field(customer, "说明").fill("按客户要求")
    button(li, "分配").click()
    expect(message(li, f"「{NAME}」已分配给刘洋。")).to_be_visible()
    expect(customer.get_by_test_id("owner")).to_have_text("刘洋")
    expect(customer.get_by_test_id("status")).to_have_text("正式客户")

    liu.reload()
    rows = open_from_menu(liu, "客户跟踪")
    expect(rows.filter(has_text=NAME)).to_have_count(1)
    customer = open_row(liu, NAME)
    expect(customer.get_by_test_id("owner")).to_have_text("刘洋")
    expect(button(liu, "移交")).to_be_visible()
    # …and it is no longer 张伟's.
    zhang.reload()
    open_from_menu(zhang, "客户跟踪")
    expect(table_rows(zhang).filter(has_text=NAME)).to_have_count(0)


def _submitted_leads(names: list[str]) -> None:
    """陈静's leads, registered and submitted as her 【提交】 does (the screens of that are walked above)."""
    from crm.accounts.models import User
    from crm.core.models import DictItem
    from crm.workflow import engine
    from crm.workflow.registry import form_types
    from crm.workflow.services import draft_save

    chen = User.objects.get(username="陈静")
    ft = form_types.get("lead")
    assert ft is not None
    source = DictItem.objects.get(dict_type__code="customer_source", label="转介绍").pk
    for i, name in enumerate(names):
        form = ft.make_form(chen, data={"name": name, "gender": "M", "mobile": f"1391234{i:04d}", "source": source})
        assert form.is_valid(), form.errors
        engine.transition(draft_save(actor=chen, form_type=ft, form=form), "submit", actor=chen)


def test_the_director_assigns_a_page_of_leads_to_one_manager_at_once(person: People) -> None:
    _submitted_leads(["赵一", "钱二", "孙三"])
    wang = person("王建国")
    expect(badge(wang, "潜在客户审核")).to_have_text("3")
    rows = open_from_menu(wang, "潜在客户审核")
    expect(rows).to_have_count(3)
    pane = active_pane(wang)
    expect(button(wang, "批量通过")).to_have_count(0)  # every step here assigns: 【批量分配】 only
    pane.get_by_role("checkbox", name="全选本页").check()
    field(pane, "分配给").select_option(label="李明")
    field(pane, "审批意见").fill("本周内联系")
    wang.once("dialog", lambda dialog: dialog.accept())
    button(wang, "批量分配").click()
    expect(message(wang, "已把 3 张申请单分配给李明。")).to_be_visible()
    expect(table_rows(wang).filter(has_text="潜在客户")).to_have_count(0)
    expect(badge(wang, "潜在客户审核")).to_have_count(0)

    # 李明 has the three now, and hands two of them to 张伟 the same way
    li = person("李明")
    expect(badge(li, "待办业务")).to_have_text("3")
    rows = open_from_menu(li, "待办业务")
    for name in ("赵一", "钱二"):
        rows.filter(has_text=name).get_by_role("checkbox").check()
    field(active_pane(li), "分配给").select_option(label="张伟")
    li.once("dialog", lambda dialog: dialog.accept())
    button(li, "批量分配").click()
    expect(message(li, "已把 2 张申请单分配给张伟。")).to_be_visible()
    expect(table_rows(li)).to_have_count(1)
    expect(table_rows(li)).to_contain_text("孙三")

    zhang = person("张伟")
    rows = open_from_menu(zhang, "本周新增客户", under="潜在客户跟踪")
    for name in ("赵一", "钱二"):
        expect(rows.filter(has_text=name)).to_contain_text("跟踪中")
