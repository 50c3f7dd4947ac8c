"""What was typed is not lost when the login runs out under it: the follow-up a rep wrote comes back after he logs in
again, and is saved with the next click."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from .conftest import NEW_PASSWORD, active_pane, log_in, tab
from .test_customers import button, field, later_this_week, message, open_from_menu, open_row, record_tab

CONTENT = "约周六来会所品茶,带夫人同来"


def test_a_follow_up_typed_when_the_login_ran_out_comes_back_after_logging_in(
    person: Callable[[str], Page], app_url: str
) -> None:
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from crm.accounts.models import User
    from crm.customers.models import Customer, FollowUp

    zhang_user = User.objects.get(username="张伟")
    customer = Customer.objects.create(
        name="钱总",
        mobile="13900003333",
        owner=zhang_user,
        department=zhang_user.department,
        registered_by=zhang_user,
        status="formal",
        owned_since=timezone.now(),
    )
    zhang = person("张伟")
    open_from_menu(zhang, "客户跟踪")
    open_row(zhang, "钱总")
    panel = record_tab(zhang, "跟踪记录")
    next_on = later_this_week()
    field(panel, "跟踪方式").select_option(label="到访")
    field(panel, "跟踪内容").fill(CONTENT)
    field(panel, "下次跟踪日期").fill(next_on)

    Session.objects.all().delete()  # the login runs out while he types
    button(zhang, "添加跟踪记录").click()
    expect(zhang).to_have_url(re.compile(r"/CRM/login/"))
    expect(zhang.get_by_text("您的登录已失效,请重新登录。")).to_be_visible()
    assert not FollowUp.objects.filter(customer=customer).exists()

    log_in(zhang, app_url, "张伟", NEW_PASSWORD)
    tab(zhang, "钱总").click()  # the workspace reopens its tabs; this one loads when brought to the front
    pane = active_pane(zhang)
    expect(pane.get_by_test_id("draft-restored")).to_have_text(
        "已恢复您上次没有提交成功的内容(提交时登录已失效),请核对后再提交。"
    )
    panel = pane.get_by_role("tabpanel")  # 跟踪记录 brought to the front, as typed
    expect(field(panel, "跟踪内容")).to_have_value(CONTENT)
    expect(field(panel, "下次跟踪日期")).to_have_value(next_on)
    expect(field(panel, "跟踪方式").locator("option:checked")).to_have_text("到访")

    button(zhang, "添加跟踪记录").click()
    expect(message(zhang, "跟踪记录已保存。")).to_be_visible()
    assert list(FollowUp.objects.filter(customer=customer).values_list("content", flat=True)) == [CONTENT]

    zhang.reload()  # kept once: the draft is gone now that it was shown
    tab(zhang, "钱总").click()
    pane = active_pane(zhang)
    expect(pane.get_by_role("heading", name="钱总")).to_be_visible()  # loaded: no request left in flight
    expect(pane.get_by_test_id("followup-form")).to_be_attached()
    expect(pane.get_by_test_id("draft-restored")).to_have_count(0)
    zhang.wait_for_load_state("networkidle")
