"""The customer services: who may do what, the refusals in a sentence, and nothing half written."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.core.models import DictItem
from crm.customers import selectors, services
from crm.customers.forms import CustomerForm, FollowUpForm, LeadForm, PartyFilterForm
from crm.customers.models import (
    Customer,
    CustomerStatus,
    FollowUp,
    Handover,
    Lead,
    LeadStatus,
    Property,
)
from crm.customers.services import CustomerError

pytestmark = pytest.mark.django_db


def item(code: str, label: str) -> DictItem:
    return DictItem.objects.get(dict_type__code=code, label=label)


def lead_of(user: Any, name: str = "钱多多", mobile: str = "13912345678", **kw: Any) -> Lead:
    return Lead.objects.create(
        name=name,
        mobile=mobile,
        owner=user,
        department=user.department,
        registered_by=user,
        status=LeadStatus.FOLLOWING,
        owned_since=timezone.now(),
        **kw,
    )


def customer_of(user: Any, name: str = "孙总", mobile: str = "13600000001", **kw: Any) -> Customer:
    return Customer.objects.create(
        name=name,
        mobile=mobile,
        owner=user,
        department=user.department,
        registered_by=user,
        status=CustomerStatus.FORMAL,
        **kw,
    )


def followup_form(at: datetime, next_on: date | None = None, **extra: Any) -> FollowUpForm:
    data = {
        "at": timezone.localtime(at).strftime("%Y-%m-%dT%H:%M"),
        "method": item("followup_method", "电话").pk,
        "content": "电话沟通",
        **extra,
    }
    if next_on:
        data["next_on"] = next_on.isoformat()
    return FollowUpForm(data)


# --- follow-ups -------------------------------------------------------------------------------------------


def test_a_follow_up_moves_the_last_and_next_dates_and_the_intent(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    lead = lead_of(zhang)
    now = timezone.now()
    form = followup_form(now, timezone.localdate() + timedelta(days=2), intent=item("intent_level", "高").pk)
    assert form.is_valid(), form.errors
    services.followup_add(actor=zhang, obj=lead, form=form)
    lead.refresh_from_db()
    assert lead.next_followup_on == timezone.localdate() + timedelta(days=2)
    assert lead.intent is not None and lead.intent.label == "高"
    assert lead.last_followup_at is not None and abs((lead.last_followup_at - now).total_seconds()) < 60
    # an older record typed in afterwards does not move the dates back
    form = followup_form(now - timedelta(days=3), timezone.localdate() - timedelta(days=1))
    assert form.is_valid()
    services.followup_add(actor=zhang, obj=lead, form=form)
    lead.refresh_from_db()
    assert lead.next_followup_on == timezone.localdate() + timedelta(days=2)
    assert lead.followups.count() == 2


def test_a_short_call_without_a_next_date_keeps_the_one_planned(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    lead = lead_of(zhang)
    friday = timezone.localdate() + timedelta(days=4)
    services.followup_add(actor=zhang, obj=lead, form=followup_form(timezone.now() - timedelta(hours=2), friday))
    services.followup_add(actor=zhang, obj=lead, form=followup_form(timezone.now() - timedelta(hours=1)))
    lead.refresh_from_db()
    assert lead.next_followup_on == friday  # still planned
    Lead.objects.filter(pk=lead.pk).update(next_followup_on=timezone.localdate())  # due today: this call was it
    lead.refresh_from_db()
    services.followup_add(actor=zhang, obj=lead, form=followup_form(timezone.now()))
    lead.refresh_from_db()
    assert lead.next_followup_on is None


def test_a_follow_up_needs_its_method_and_content_in_plain_words() -> None:
    form = FollowUpForm({"at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    assert not form.is_valid()
    assert form.errors["method"] == ["请选择跟踪方式。"] and form.errors["content"] == ["请填写跟踪内容。"]


def test_follow_up_refusals(people: dict[str, Any]) -> None:
    zhang, liu = people["张伟"], people["刘洋"]
    lead = lead_of(zhang)
    future = followup_form(timezone.now() + timedelta(hours=2))
    assert not future.is_valid() and "不能晚于现在" in str(future.errors)
    backwards = followup_form(timezone.now(), timezone.localdate() - timedelta(days=1))
    assert not backwards.is_valid() and "不能早于本次跟踪" in str(backwards.errors)
    form = followup_form(timezone.now())
    assert form.is_valid()
    with pytest.raises(CustomerError, match="只有负责人本人"):
        services.followup_add(actor=liu, obj=lead, form=form)
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.CLOSED)
    with pytest.raises(CustomerError, match="不能再填写跟踪记录"):
        services.followup_add(actor=zhang, obj=lead, form=followup_form(timezone.now()))
    assert FollowUp.objects.count() == 0


def test_the_follow_up_page_refuses_a_future_time_in_a_sentence(client_for: Any, people: dict[str, Any]) -> None:
    lead = lead_of(people["张伟"])
    r = client_for("张伟").post(
        reverse("customers:lead_detail", args=[lead.pk]),
        {
            "_action": "followup",
            "fu-at": (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "fu-content": "明天的事",
        },
    )
    assert r.status_code == 422 and "跟踪时间不能晚于现在" in r.content.decode()
    assert not FollowUp.objects.exists()


# --- leads ------------------------------------------------------------------------------------------------


def test_a_reps_own_lead_is_his_at_once(client_for: Any, people: dict[str, Any]) -> None:
    c = client_for("张伟")
    data = {"name": " 陶 然 ", "mobile": "１３８ ０００0 0001", "source": item("customer_source", "陌拜").pk}
    r = c.post(reverse("customers:lead_create"), data)
    assert r.status_code == 200, r.content.decode()[:2000]
    lead = Lead.objects.get()
    assert (lead.name, lead.mobile, lead.owner, lead.status) == ("陶 然", "13800000001", people["张伟"], "following")
    assert list(lead.handovers.values_list("action", flat=True)) == ["register"]
    assert "陶 然" in [row["obj"].name for row in c.get(reverse("customers:lead_week_new")).context["rows"]]
    # customer service has no such page: its leads go through assignment
    assert client_for("陈静").get(reverse("customers:lead_create")).status_code == 403


def test_a_malformed_mobile_or_id_is_refused_in_a_sentence(people: dict[str, Any]) -> None:
    lead_form = LeadForm({"name": "甲", "mobile": "1234"}, user=people["张伟"])
    assert not lead_form.is_valid() and "11 位数字" in str(lead_form.errors["mobile"])
    form = CustomerForm({"name": "乙", "id_number": "110101198001010054"}, user=people["张伟"])
    assert not form.is_valid() and "校验位" in str(form.errors["id_number"])
    form = CustomerForm({"name": "丙", "birthday": "2999-01-01", "mobile": "13800000002"}, user=people["张伟"])
    assert not form.is_valid() and "生日不能晚于今天" in str(form.errors["birthday"])
    form = CustomerForm({"name": "丁"}, user=people["张伟"])
    assert not form.is_valid() and "至少填写一项" in str(form.errors)


def test_a_duplicate_mobile_is_flagged_with_its_masked_owner_until_confirmed(people: dict[str, Any]) -> None:
    customer_of(people["杨帆"], name="老孙", mobile="13600000001")
    form = LeadForm({"name": "孙先生", "mobile": "13600000001"}, user=people["张伟"])
    assert not form.is_valid()
    text = " ".join(form.non_field_errors())
    assert "136****0001 已登记为客户「老孙」(负责人:杨帆)" in text and "确认不是同一人" in text
    # someone who may see personal data sees the whole number
    form = LeadForm({"name": "孙先生", "mobile": "13600000001"}, user=people["赵志刚"])
    assert not form.is_valid() and "13600000001 已登记为客户" in " ".join(form.non_field_errors())
    form = LeadForm({"name": "孙先生", "mobile": "13600000001", "confirm_duplicate": "on"}, user=people["张伟"])
    assert form.is_valid(), form.errors


def test_closing_a_lead_needs_a_reason_and_the_owner(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    lead = lead_of(zhang)
    with pytest.raises(CustomerError, match="只有负责人本人"):
        services.lead_close(actor=people["刘洋"], lead=lead, reason=item("close_reason", "无意向"))
    with pytest.raises(CustomerError, match="关闭原因"):
        services.lead_close(actor=zhang, lead=lead, reason=item("intent_level", "高"))
    services.lead_close(actor=zhang, lead=lead, reason=item("close_reason", "无意向"), note="已买别家")
    lead.refresh_from_db()
    assert (lead.status, lead.close_reason.label, lead.close_note) == ("closed", "无意向", "已买别家")
    with pytest.raises(CustomerError, match="不能关闭"):
        services.lead_close(actor=zhang, lead=lead, reason=item("close_reason", "无意向"))


def test_a_converted_lead_cannot_be_converted_again(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    lead = lead_of(zhang)
    form = CustomerForm({"name": "钱多多", "mobile": "13912345678", "lead": lead.pk}, user=zhang)
    assert form.is_valid(), form.errors  # the lead's own mobile is not a duplicate of itself
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.CONVERTED)
    form = CustomerForm({"name": "钱多多", "mobile": "13912345678", "lead": lead.pk}, user=zhang)
    assert not form.is_valid() and "已经转为客户" in str(form.errors["lead"])
    # someone else's lead is refused the same way
    form = CustomerForm(
        {"name": "钱多多", "mobile": "13912345679", "lead": lead_of(people["刘洋"], mobile="13900000000").pk},
        user=zhang,
    )
    assert not form.is_valid() and "lead" in form.errors


# --- ownership ------------------------------------------------------------------------------------------


def test_hand_over_goes_to_the_leader_and_only_a_leader_reassigns(people: dict[str, Any]) -> None:
    zhang, liu, li, wang, yang = (people[n] for n in ("张伟", "刘洋", "李明", "王建国", "杨帆"))
    customer = customer_of(zhang)
    with pytest.raises(CustomerError, match="只有负责人本人"):
        services.hand_over(actor=liu, obj=customer)
    with pytest.raises(CustomerError, match="只有负责人的上级"):
        services.reassign(actor=liu, obj=customer, to=liu)
    # a leader may move his own people's records; only to his own people
    with pytest.raises(CustomerError, match="所领导的在职同事"):
        services.reassign(actor=li, obj=customer, to=yang)
    services.hand_over(actor=zhang, obj=customer, reason="出差")
    customer.refresh_from_db()
    assert (customer.owner, customer.status) == (li, CustomerStatus.HANDED_OVER)
    with pytest.raises(CustomerError, match="已经由"):
        services.reassign(actor=wang, obj=customer, to=li)
    services.reassign(actor=li, obj=customer, to=liu)
    customer.refresh_from_db()
    assert (customer.owner, customer.department, customer.status) == (liu, liu.department, CustomerStatus.FORMAL)
    # the manager's own leader is the director above him
    own = customer_of(li, name="李明的客户", mobile="13600000002")
    services.hand_over(actor=li, obj=own)
    assert Customer.objects.get(pk=own.pk).owner == wang
    # the director leads 销售部: nobody above him to hand to
    top = customer_of(wang, name="总监的客户", mobile="13600000003")
    with pytest.raises(CustomerError, match="找不到您的上级"):
        services.hand_over(actor=wang, obj=top)
    assert list(Handover.objects.filter(customer=customer).values_list("action", flat=True)) == ["transfer", "reassign"]


# --- member card numbers, the week, search ----------------------------------------------------------------


def test_card_numbers_follow_the_pattern_and_never_repeat(settings: Any, people: dict[str, Any]) -> None:
    settings.CRM_CARD_NUMBER_PATTERN = "VIP{seq:05d}"
    assert [services.next_card_no() for _ in range(3)] == ["VIP00001", "VIP00002", "VIP00003"]


@pytest.mark.parametrize(
    ("day", "monday"),
    [("2026-11-23", "2026-11-23"), ("2026-11-29", "2026-11-23"), ("2026-11-30", "2026-11-30")],
)
def test_the_week_runs_monday_to_sunday(day: str, monday: str) -> None:
    start, end = selectors.week_bounds(date.fromisoformat(day))
    assert (start.isoformat(), (end - start).days) == (monday, 6)


def test_the_week_is_the_clubs_not_utc(people: dict[str, Any]) -> None:
    """Sunday 23:30 in Shanghai is Sunday 15:30 UTC; Monday 00:30 in Shanghai is still Sunday in UTC."""
    zhang = people["张伟"]
    tz = ZoneInfo("Asia/Shanghai")
    a = lead_of(zhang, name="周日深夜", mobile="13800000011")
    b = lead_of(zhang, name="周一凌晨", mobile="13800000012")
    Lead.objects.filter(pk=a.pk).update(last_followup_at=datetime(2026, 11, 29, 23, 30, tzinfo=tz))
    Lead.objects.filter(pk=b.pk).update(last_followup_at=datetime(2026, 11, 30, 0, 30, tzinfo=tz))
    this_week = selectors.week_filter(Lead.objects.all(), "done", date(2026, 11, 26))
    next_week = selectors.week_filter(Lead.objects.all(), "done", date(2026, 12, 1))
    assert [x.name for x in this_week] == ["周日深夜"] and [x.name for x in next_week] == ["周一凌晨"]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("张伟", {"张伟明", "张伟"}),
        ("伟明", {"张伟明"}),
        ("张伟明", {"张伟明"}),
        ("伟", {"张伟明", "张伟"}),
        ("zw", {"张伟明", "张伟"}),
        ("zwm", {"张伟明"}),
        ("zhangwei", {"张伟明", "张伟"}),
        ("ZhangWeiM", {"张伟明"}),
        ("lb", {"吕布"}),
        ("明张", set()),
    ],
)
def test_search_by_name_and_pinyin(q: str, found: set[str], people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    for i, name in enumerate(["张伟明", "张伟", "吕布", "王芳"]):
        customer_of(zhang, name=name, mobile=f"1390000000{i}")
    form = PartyFilterForm({"q": q})
    assert {c.name for c in form.filter(Customer.objects.all())} == found


def test_search_by_any_four_digits_of_the_mobile(people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    customer_of(zhang, name="甲", mobile="13912345678")
    customer_of(zhang, name="乙", mobile="13800005678")
    assert {c.name for c in PartyFilterForm({"mobile": "5678"}).filter(Customer.objects.all())} == {"甲", "乙"}
    assert {c.name for c in PartyFilterForm({"mobile": "2345"}).filter(Customer.objects.all())} == {"甲"}
    form = PartyFilterForm({"mobile": "567"})
    assert not form.is_valid() and "至少 4 位" in str(form.errors)


# --- merging ----------------------------------------------------------------------------------------------


def test_merging_two_customers_keeps_one_with_everything(people: dict[str, Any]) -> None:
    admin, zhang = people["管理员"], people["张伟"]
    keep = customer_of(zhang, name="孙总", mobile="13600000001", card_no="JSH1")
    drop = customer_of(zhang, name="孙总", mobile="13600000001", id_number="110101198001010053", address="浦东")
    drop.hobbies.add(item("hobby", "高尔夫"))
    Property.objects.create(customer=drop, community="汤臣一品")
    FollowUp.objects.create(
        customer=drop, at=timezone.now(), content="见面", author=zhang, next_on=timezone.localdate()
    )
    with pytest.raises(CustomerError, match="没有合并"):
        services.merge(actor=zhang, keep=keep, drop=drop)
    services.merge(actor=admin, keep=keep, drop=drop)
    keep.refresh_from_db()
    drop.refresh_from_db()
    assert (keep.id_number, keep.address, keep.card_no) == ("110101198001010053", "浦东", "JSH1")
    assert [h.label for h in keep.hobbies.all()] == ["高尔夫"]
    assert keep.properties.count() == 1 and keep.followups.count() == 1 and keep.next_followup_on is not None
    assert (drop.status, drop.merged_into) == (CustomerStatus.MERGED, keep)
    with pytest.raises(CustomerError, match="已经合并过"):
        services.merge(actor=admin, keep=keep, drop=drop)
    assert Customer.objects.formal().count() == 1


def test_the_merge_page(client_for: Any, people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    a = customer_of(zhang, name="孙总", mobile="13600000001")
    b = customer_of(zhang, name="孙总", mobile="13600000001", address="浦东")
    admin = client_for("管理员")
    url = reverse("customers:merge_customer")
    r = admin.get(url)
    assert r.status_code == 200 and f"#{a.pk}" in r.content.decode()
    r = admin.post(url, {"keep": f"#{a.pk}", "drop": "13600000001"})  # the mobile is ambiguous: both hold it
    assert r.status_code == 422 and "「合并掉的记录」找不到「13600000001」。请用记录编号" in r.content.decode()
    assert 'value="13600000001"' in r.content.decode()  # what was typed stays
    r = admin.post(url, {"keep": "abc", "drop": ""})
    assert "「保留的记录」找不到「abc」;「合并掉的记录」没有填写。" in r.content.decode()
    # one record against itself: refused at 【对比】, no table and no 【合并】 offered
    r = admin.post(url, {"keep": f"#{a.pk}", "drop": f"#{a.pk}", "_action": "compare"})
    body = r.content.decode()
    assert r.status_code == 422 and f"两栏是同一条记录(#{a.pk}),请选择两条不同的记录。" in body
    assert 'value="merge"' not in body
    r = admin.post(url, {"keep": f"#{a.pk}", "drop": f"#{b.pk}", "_action": "compare"})
    assert r.status_code == 200 and "浦东" in r.content.decode()
    confirm = f"把 #{b.pk} 孙总 合并到 #{a.pk} 孙总:#{b.pk} 将标为「已合并」,合并后不能撤销。确定合并吗?"
    assert f'data-confirm="{confirm}"' in r.content.decode()  # the browser asks first
    r = admin.post(url, {"keep": f"#{a.pk}", "drop": f"#{b.pk}", "_action": "merge"})
    assert r.status_code == 200 and f"已将 #{b.pk}「孙总」合并到 #{a.pk}「孙总」" in r.content.decode()
    assert Customer.objects.get(pk=b.pk).status == CustomerStatus.MERGED
    assert client_for("李明").get(url).status_code == 403


def test_search_follows_every_write(people: dict[str, Any]) -> None:
    """The search tokens follow a rename, a new mobile, a delete and a bulk insert (on SQLite they live in an
    FTS5 table kept by triggers; on PostgreSQL in the rows themselves)."""
    zhang = people["张伟"]
    c = customer_of(zhang, name="张伟明", mobile="13912345678")

    def found(**query: str) -> set[str]:
        return {x.name for x in PartyFilterForm(query).filter(Customer.objects.all())}

    assert found(q="伟明") == {"张伟明"} and found(mobile="12345") == {"张伟明"}
    c.name, c.mobile = "李雅琴", "13800001111"
    c.save()
    assert found(q="伟明") == set() and found(q="雅琴") == {"李雅琴"} and found(q="李雅琴") == {"李雅琴"}
    assert found(mobile="5678") == set() and found(mobile="0001111") == {"李雅琴"}
    Customer.objects.bulk_create(
        [Customer(name="赵雅琴", mobile="13700001111", registered_by=zhang, status=CustomerStatus.FORMAL)]
    )
    assert found(q="雅琴") == {"李雅琴"}  # bulk_create skips save(): no search keys for 赵雅琴
    Customer.objects.filter(name="赵雅琴").delete()
    c.delete()
    assert found(q="雅琴") == set() and found(mobile="1111") == set()
    # terms the index cannot hold as one token still answer, by LIKE
    customer_of(zhang, name="阿卜杜·热合曼", mobile="13600000009")
    assert found(q="阿卜杜·热合曼") == {"阿卜杜·热合曼"} and found(q="热合曼") == {"阿卜杜·热合曼"}


def test_sqlite_search_structures_come_back_after_a_table_rebuild(people: dict[str, Any]) -> None:
    """Django rebuilds a SQLite table to alter a column, dropping what it did not create; after migrate they
    are reinstalled and the token index refilled from the table."""
    from django.db import connection

    from crm.customers import sqlite_search

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    customer_of(people["张伟"], name="张伟明", mobile="13912345678")
    with connection.cursor() as c:
        c.execute("DROP TRIGGER customers_customer_fts_ai")
        c.execute("DROP INDEX cust_initials_nocase")
        c.execute("INSERT INTO customers_customer_fts(customers_customer_fts) VALUES ('delete-all')")
    assert sqlite_search.install(connection) == ["customers_customer"]
    with connection.cursor() as c:
        names = {n for (n,) in c.execute("SELECT name FROM sqlite_master").fetchall()}
    assert {"customers_customer_fts_ai", "cust_initials_nocase"} <= names
    assert {x.name for x in PartyFilterForm({"q": "伟明"}).filter(Customer.objects.all())} == {"张伟明"}
    assert sqlite_search.install(connection) == []  # nothing missing: nothing done


@pytest.mark.parametrize(
    "url_name",
    ["customers:lead_list", "customers:lead_entry", "customers:customer_list", "customers:customer_entry"],
)
def test_list_queries_do_not_grow_with_rows(url_name: str, client_for: Any, people: dict[str, Any]) -> None:
    """No query per row: a page of 3 records costs what a page of 20 does."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    zhang = people["张伟"]
    c = client_for("张伟")
    c.get(reverse(url_name), {"_uid": "t"})  # the first request also loads the session's user and permissions
    counts = []
    for n in (3, 20):
        for i in range(n - Lead.objects.count()):
            k = Lead.objects.count() + i
            lead_of(zhang, name=f"客户{k}", mobile=f"1380000{k:04d}", source=item("customer_source", "转介绍"))
            customer_of(zhang, name=f"客户{k}", mobile=f"1370000{k:04d}", level=item("customer_level", "A(重点客户)"))
        with CaptureQueriesContext(connection) as ctx:
            r = c.get(reverse(url_name), {"_uid": "t"})
        assert r.status_code == 200 and len(r.context["rows"]) == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
