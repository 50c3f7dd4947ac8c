"""〖潜在客户录入〗 and 〖客户登记〗: what the registrar sees of what they registered, whatever became of it."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from crm.customers import services
from crm.customers.models import Customer

from .test_flow import register_lead
from .test_profile import _approve, _member, _register

pytestmark = pytest.mark.django_db


def _rows(client: Any, url_name: str) -> list[dict[str, Any]]:
    return client.get(reverse(url_name)).context["rows"]


def test_a_returned_application_reads_as_returned_in_the_entry_lists(client_for: Any, people: dict[str, Any]) -> None:
    chen, wang = client_for("陈静"), client_for("王建国")
    lead = register_lead(chen)
    r = wang.post(reverse("workflow:detail", args=[lead.application_id]), {"_action": "return", "opinion": "补充公司"})
    assert r.status_code == 302
    (row,) = _rows(chen, "customers:lead_entry")
    assert str(row["cells"][4]) == "草稿(已退回)"
    # the status condition that finds it says it finds the registrations in every state of their application
    page = chen.get(reverse("customers:lead_entry"), {"status": "draft"})
    assert [r["obj"] for r in page.context["rows"]] == [lead]
    assert ">登记中(草稿、审批中或已退回)</option>" in page.content.decode()


def test_what_was_handed_on_opens_as_its_registration_and_merged_records_are_gone(
    client_for: Any, people: dict[str, Any]
) -> None:
    zhang = client_for("张伟")
    app = _register(zhang)
    _approve(client_for, app)
    customer = Customer.objects.get(application=app)
    (row,) = _rows(zhang, "customers:customer_entry")
    assert row["url"] == reverse("customers:customer_detail", args=[customer.pk])
    services.hand_over(actor=people["张伟"], obj=customer, reason="")
    (row,) = _rows(zhang, "customers:customer_entry")
    assert row["url"] == reverse("workflow:detail", args=[app.pk])  # not a 404: the profile is his leader's now
    assert zhang.get(row["url"]).status_code == 200
    assert client_for("李明").get(reverse("customers:customer_entry")).status_code == 200
    # a record of his merged into another is no longer listed
    other = _member(people["张伟"])
    other.registered_by = people["张伟"]
    other.save()
    services.merge(actor=people["管理员"], keep=customer, drop=other)
    assert [r["obj"].pk for r in _rows(zhang, "customers:customer_entry")] == [customer.pk]


def test_a_leader_finds_the_customers_handed_over_to_him(client_for: Any, people: dict[str, Any]) -> None:
    kept, handed = _member(people["张伟"]), _member(people["张伟"])
    li = client_for("李明")
    url = reverse("customers:customer_list")
    assert li.get(url).context["quick_filters"]() == []  # nothing waits for him
    services.hand_over(actor=people["张伟"], obj=handed, reason="客户要求")
    r = li.get(url)
    waiting = r.context["quick_filters"]()[1]
    assert (str(waiting["label"]), waiting["count"]) == ("移交给我、待重新分配", 1)
    assert "待重新分配" in [str(c) for row in r.context["rows"] for c in row["cells"]]
    params = {"status": "handed_over", "owner": str(people["李明"].pk)}
    assert [row["obj"].pk for row in li.get(url, params).context["rows"]] == [handed.pk]
    assert [row["obj"].pk for row in li.get(url, {"status": "formal"}).context["rows"]] == [kept.pk]
    assert client_for("张伟").get(url).context["quick_filters"]() == []


def test_a_merged_away_card_finds_the_record_kept_and_the_comparison_shows_both_cards(
    client_for: Any, people: dict[str, Any]
) -> None:
    keep, drop = _member(people["张伟"]), _member(people["张伟"])
    Customer.objects.filter(pk=keep.pk).update(card_no="JSH2026000001")
    Customer.objects.filter(pk=drop.pk).update(card_no="JSH2026000003")
    admin = client_for("管理员")
    url = reverse("customers:merge_customer")
    r = admin.post(url, {"keep": f"#{keep.pk}", "drop": f"#{drop.pk}", "_action": "compare"})
    assert ("会员卡号", "JSH2026000001", "JSH2026000003") in [tuple(map(str, row)) for row in r.context["rows"]]
    admin.post(url, {"keep": f"#{keep.pk}", "drop": f"#{drop.pk}", "_action": "merge"})
    found = client_for("张伟").get(reverse("customers:customer_list"), {"card_no": "jsh2026000003"})
    assert [row["obj"].pk for row in found.context["rows"]] == [keep.pk]


def test_searches_take_what_is_pasted_and_refuse_what_finds_nothing(client_for: Any, people: dict[str, Any]) -> None:
    wang = _member(people["张伟"])
    Customer.objects.filter(pk=wang.pk).update(name="王晓明", mobile="13800138011")
    wang.refresh_from_db()
    wang.save()  # the search keys follow the name
    other = _member(people["张伟"])
    zhang = client_for("张伟")
    url = reverse("customers:customer_list")

    def found(**query: str) -> list[int]:
        return [row["obj"].pk for row in zhang.get(url, query).context["rows"]]

    assert found(q="王 晓明") == [wang.pk]
    assert found(q="王晓明!") == [wang.pk]
    assert found(mobile="（138）0013 8011") == [wang.pk]
    r = zhang.get(url, {"created_from": "2026-12-31", "created_to": "2026-01-01"})
    assert "结束日期不能早于开始日期。" in r.content.decode()
    assert found(mobile="0013 8011") == [wang.pk]
    assert found(mobile="+86 138-0013-8011") == [wang.pk]
    r = zhang.get(url, {"q": "_"})
    assert "请输入姓名中的字或拼音。" in r.content.decode()
    assert sorted(row["obj"].pk for row in r.context["rows"]) == sorted([wang.pk, other.pk])  # left out, and said


def test_the_two_zhang_wei_are_told_apart_as_owners(client_for: Any, people: dict[str, Any]) -> None:
    _member(people["张伟"])
    _member(people["张伟(销售二组)"])
    context = client_for("王建国").get(reverse("customers:customer_list")).context
    at = [c.name for c in context["columns"]].index("owner")
    owners = sorted(str(row["cells"][at]) for row in context["rows"])
    assert owners == ["张伟", "张伟(销售二组)"]


def test_search_areas_offer_only_what_their_list_can_show(client_for: Any, people: dict[str, Any]) -> None:
    chen, wang, zhang = client_for("陈静"), client_for("王建国"), client_for("张伟")
    tracking = zhang.get(reverse("customers:lead_list")).context["form"]
    assert "draft" not in dict(tracking.fields["status"].choices)  # drafts are not listed there
    entry = chen.get(reverse("customers:lead_entry")).context["form"]
    assert "draft" in dict(entry.fields["status"].choices)  # but are among one's own entries
    for name in ("customers:lead_review", "customers:customer_review"):
        assert "form_type" not in wang.get(reverse(name)).context["form"].fields  # one type each
    register_lead(chen)
    assert len(wang.get(reverse("customers:lead_review"), {"title": "钱多多"}).context["rows"]) == 1


def test_the_owner_choice_offers_the_people_in_scope(client_for: Any, people: dict[str, Any]) -> None:
    def owners(who: str) -> set[str]:
        form = client_for(who).get(reverse("customers:customer_list")).context["form"]
        return {u.username for u in form.fields["owner"].queryset}

    assert owners("张伟") == {"张伟"}
    assert owners("李明") == {"李明", "张伟", "刘洋"}
    assert {"周丽", "杨帆", "张伟(销售二组)"} <= owners("王建国") and "陈静" not in owners("王建国")


def test_a_leader_finds_the_leads_handed_over_to_him_too(client_for: Any, people: dict[str, Any]) -> None:
    from crm.customers.models import Lead

    lead = Lead.objects.create(
        name="钱多多", mobile="13912345678", owner=people["张伟"], registered_by=people["张伟"], status="following"
    )
    services.hand_over(actor=people["张伟"], obj=lead, reason="")
    li = client_for("李明")
    waiting = li.get(reverse("customers:lead_list")).context["quick_filters"]()[1]
    assert (str(waiting["label"]), waiting["count"]) == ("移交给我、待重新分配", 1)
    assert li.get(reverse("customers:lead_week_new")).context["quick_filters"]() == []  # not on the weekly lists


def test_names_sort_by_pinyin(client_for: Any, people: dict[str, Any]) -> None:
    for name in ("张三", "王五", "李四", "阿明"):
        c = _member(people["张伟"])
        c.name = name
        c.save()
    zhang = client_for("张伟")
    url = reverse("customers:customer_list")
    names = [row["obj"].name for row in zhang.get(url, {"sort": "name"}).context["rows"]]
    assert names == ["阿明", "李四", "王五", "张三"]
    names = [row["obj"].name for row in zhang.get(url, {"sort": "-name"}).context["rows"]]
    assert names == ["张三", "王五", "李四", "阿明"]


def test_a_lead_merged_away_is_neither_listed_nor_a_duplicate(client_for: Any, people: dict[str, Any]) -> None:
    from crm.customers.forms import LeadForm
    from crm.customers.models import Lead

    def lead() -> Lead:
        zhang = people["张伟"]
        return Lead.objects.create(
            name="钱多多", mobile="13912345678", owner=zhang, registered_by=zhang, status="following"
        )

    keep, drop = lead(), lead()
    services.merge(actor=people["管理员"], keep=keep, drop=drop)
    zhang = client_for("张伟")
    for name in ("customers:lead_list", "customers:lead_entry"):
        assert [row["obj"].pk for row in zhang.get(reverse(name)).context["rows"]] == [keep.pk]
        assert "merged" not in dict(zhang.get(reverse(name)).context["form"].fields["status"].choices)
    form = LeadForm({"name": "钱多多", "mobile": "13912345678"}, instance=keep, user=people["张伟"])
    assert form.is_valid(), form.errors  # its merged twin is not "another" record holding the number


def test_an_assignment_without_anyone_says_so_not_save(client_for: Any, people: dict[str, Any]) -> None:
    customer = _member(people["张伟"])
    services.hand_over(actor=people["张伟"], obj=customer, reason="")
    r = client_for("李明").post(
        reverse("customers:customer_detail", args=[customer.pk]), {"_action": "assign", "as-to": ""}
    )
    page = r.content.decode()
    assert r.status_code == 422 and "请选择分配给谁。" in page and "再保存" not in page


def test_assignment_conversion_and_merge_are_audited_on_each_record(client_for: Any, people: dict[str, Any]) -> None:
    from crm.core.models import AuditLog
    from crm.customers.models import Lead

    chen, wang = client_for("陈静"), client_for("王建国")
    lead = register_lead(chen)
    url = reverse("workflow:detail", args=[lead.application_id])
    for who, to in ((wang, "李明"), (client_for("李明"), "张伟")):
        r = who.post(url, {"_action": "approve", "opinion": "跟进", "assign_to": people[to].pk})
        assert r.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == people["张伟"]
    entries = AuditLog.objects.filter(content_type__model="lead", object_id=str(lead.pk))
    changed = [e.changes for e in entries if "owner" in e.changes]
    assert changed and changed[-1]["owner"][1] == str(lead.owner)
    keep, drop = _member(people["张伟"]), _member(people["张伟"])
    services.merge(actor=people["管理员"], keep=keep, drop=drop)
    merged = AuditLog.objects.filter(content_type__model="customer", object_id=str(drop.pk)).latest("id")
    assert merged.changes["status"] == ["formal", "merged"] and Lead.objects.count() == 1


def test_the_entry_list_reads_what_is_still_reachable_once_per_page(client_for: Any, people: dict[str, Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    li = people["李明"]
    client = client_for("李明")

    def registered(n: int) -> None:
        for _ in range(n):
            c = _member(people["张伟"])  # registered by 李明, followed by 张伟 and 杨帆
            c.registered_by = li
            c.save()
        c.owner = people["杨帆"]  # one handed out of his reach
        c.save()

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            rows = client.get(reverse("customers:customer_entry")).context["rows"]
        assert [r["url"] for r in rows if "workflow" in (r["url"] or "")] == [] and rows
        return len(ctx.captured_queries)

    registered(2)
    queries()  # the first request of the session reads what the later ones find cached
    few = queries()
    registered(6)
    assert queries() == few
    urls = [r["url"] for r in client.get(reverse("customers:customer_entry")).context["rows"]]
    assert urls.count(None) == 2  # the two out of reach (no registration to fall back on) open nothing
