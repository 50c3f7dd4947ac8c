"""Consumption and points as the demo people read them: 张伟 opens his member and finds the points of a dinner on
the 积分 tab, with its ledger entry and the link to the dinner; 刘洋 (the same group, only his own customers)
finds none of them in 〖积分流水〗, while 李明, their manager, finds both members' rows there."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect

from .conftest import active_pane, list_count, table_rows
from .test_customers import menu_link, open_from_menu, open_row, record_tab

People = Callable[[str], Page]

MEMBER = "孙大海"
OTHER = "周小川"


def _member(owner_name: str, name: str, card_no: str, mobile: str) -> Any:
    from crm.accounts.models import User
    from crm.customers.models import Customer, CustomerStatus

    owner = User.objects.get(username=owner_name)
    return Customer.objects.create(
        name=name,
        mobile=mobile,
        card_no=card_no,
        owner=owner,
        department=owner.department,
        registered_by=owner,
        status=CustomerStatus.FORMAL,
        owned_since=timezone.now(),
    )


def test_a_rep_reads_his_members_points_and_a_colleague_cannot(person: People, app_url: str) -> None:
    from crm.loyalty import services

    sun = _member("张伟", MEMBER, "JSH2026900001", "13911112222")
    zhou = _member("刘洋", OTHER, "JSH2026900002", "13933334444")
    # a dinner entered at the front desk: 1,288 yuan earns 1,288 points at 普卡
    services.consumption_record(
        customer=sun,
        amount="1288.00",
        category="dining",
        source="manual",
        venue="中餐厅",
        order_no="D-20260001",
        occurred_at=timezone.now() - timedelta(hours=2),
    )
    services.consumption_record(customer=zhou, amount="300.00", category="spa", source="manual", order_no="S-1")
    for i in range(55):  # later small gifts: the dinner's entry is on the ledger's second page
        services.points_gift(customer=sun, points=1, reason=f"签到礼遇{i}")

    # 张伟 opens his member from 〖客户跟踪〗: the 积分 tab shows the balance and the entry.
    zhang = person("张伟")
    rows = open_from_menu(zhang, "客户跟踪")
    expect(rows.filter(has_text=MEMBER)).to_have_count(1)
    customer = open_row(zhang, MEMBER)
    expect(customer.get_by_role("heading", name=MEMBER)).to_be_visible()
    panel = record_tab(zhang, "积分")
    expect(panel.get_by_test_id("points-balance")).to_have_text("1,343")
    expect(panel.get_by_test_id("points-level")).to_have_text("普卡")
    expect(panel.get_by_test_id("ledger-count")).to_have_text("共 56 条")
    ledger = panel.get_by_test_id("ledger").locator("tbody tr")
    expect(ledger).to_have_count(51)  # 50 entries and 【更多】
    panel.get_by_role("button", name="更多").click()
    expect(ledger).to_have_count(56)
    expect(panel.get_by_role("button", name="更多")).to_have_count(0)
    entry = ledger.filter(has_text="消费积分")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("+1,288")
    expect(entry).to_contain_text("餐饮")
    # the entry's source opens the dinner in a tab of its own
    entry.get_by_role("link", name="消费 D-20260001").click()
    dinner = active_pane(zhang)
    expect(dinner.get_by_test_id("consumption-detail")).to_be_visible()
    expect(dinner.get_by_test_id("sale")).to_contain_text("1,288.00")
    expect(dinner.get_by_test_id("sale")).to_contain_text("中餐厅")

    # The 消费记录 tab of the same member lists the dinner.
    zhang.get_by_role("tab", name=re.compile(rf"^{MEMBER} 关闭")).click()  # the member's tab, not the dinner's
    panel = record_tab(zhang, "消费记录")
    expect(panel.get_by_test_id("consumptions").locator("tbody tr").filter(has_text="D-20260001")).to_have_count(1)

    # 〖积分流水〗: 张伟 sees his member's entry, 刘洋 only his own member's.
    rows = open_from_menu(zhang, "积分流水")
    expect(list_count(zhang)).to_contain_text("共 56 条")
    expect(rows.filter(has_text=OTHER)).to_have_count(0)
    liu = person("刘洋")
    expect(menu_link(liu, "积分流水")).to_be_visible()
    rows = open_from_menu(liu, "积分流水")
    expect(list_count(liu)).to_contain_text("共 1 条")
    expect(rows.filter(has_text=OTHER)).to_have_count(1)
    expect(table_rows(liu).filter(has_text=MEMBER)).to_have_count(0)
    # ...and a search by the member's name finds nothing for him
    search = active_pane(liu).get_by_role("search")
    search.get_by_label("客户姓名/拼音").fill(MEMBER)
    search.get_by_role("button", name="查询").click()
    expect(list_count(liu)).to_contain_text("共 0 条")
    expect(table_rows(liu)).to_contain_text("没有符合条件的记录")
    # Opening 张伟's member directly is "not found", not "forbidden".
    url = re.sub(r"/$", "", app_url) + f"/customers/{sun.pk}/?tab=points"
    response = liu.goto(url)
    assert response is not None and response.status == 404

    # 李明, their manager, reads both members' rows.
    li = person("李明")
    rows = open_from_menu(li, "积分流水")
    expect(list_count(li)).to_contain_text("共 57 条")
    search = active_pane(li).get_by_role("search")
    search.get_by_label("类型").select_option(label="消费积分")
    search.get_by_role("button", name="查询").click()
    expect(list_count(li)).to_contain_text("共 2 条")
    expect(rows.filter(has_text=MEMBER)).to_have_count(1)
    expect(rows.filter(has_text=OTHER)).to_have_count(1)
