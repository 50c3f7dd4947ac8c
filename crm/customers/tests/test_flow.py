"""The seed's customer flows through the pages, with the demo people (the browser test walks the same)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from crm.core.models import AuditLog, DictItem
from crm.customers.models import Customer, CustomerStatus, Handover, Lead, LeadStatus
from crm.workflow.models import Application, Status

pytestmark = pytest.mark.django_db


def item(code: str, label: str) -> int:
    return DictItem.objects.get(dict_type__code=code, label=label).pk


def names(client: Any, url_name: str) -> list[str]:
    r = client.get(reverse(url_name), {"_uid": "t"})
    assert r.status_code == 200
    return [row["obj"].name for row in r.context["rows"]]


def act(client: Any, app: Application, action: str, **data: Any) -> Any:
    return client.post(reverse("workflow:detail", args=[app.pk]), {"_action": action, **data})


def register_lead(client: Any, name: str = "钱多多", mobile: str = "13912345678") -> Lead:
    r = client.post(
        reverse("workflow:create", args=["lead"]),
        {
            "_action": "submit",
            "name": name,
            "gender": "M",
            "mobile": mobile,
            "company": "多多投资",
            "source": item("customer_source", "转介绍"),
            "intent": item("intent_level", "高"),
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    return Lead.objects.get(name=name)


def test_the_lead_and_customer_flow_of_the_seed(client_for: Any, people: dict[str, Any]) -> None:
    chen, wang, li, zhang, liu = (client_for(n) for n in ("陈静", "王建国", "李明", "张伟", "刘洋"))

    # 陈静 (客服) registers a lead and submits it; it waits for the director in 〖潜在客户审核〗.
    lead = register_lead(chen)
    assert lead.registered_by == people["陈静"] and lead.owner is None
    assert "钱多多" in names(chen, "customers:lead_entry")
    app = Application.objects.get(pk=lead.application_id)
    assert app.status == Status.IN_PROGRESS
    r = wang.get(reverse("customers:lead_review"), {"_uid": "t"})
    assert [row["title"] for row in r.context["rows"]] == [app.title]
    assert wang.get(reverse("customers:lead_review_count")).content.decode().count("1")

    # 王建国 【分配】s it to 李明 (a manager), who 【分配】s it to 张伟 (a rep).
    assert act(wang, app, "approve", opinion="请李明安排", assign_to=people["李明"].pk).status_code == 302
    assert act(li, app, "approve", opinion="张伟跟进", assign_to=people["张伟"].pk).status_code == 302
    lead.refresh_from_db()
    assert (lead.owner, lead.status) == (people["张伟"], LeadStatus.FOLLOWING)
    assert lead.department == people["张伟"].department

    # 张伟 finds it under 本周新增客户; a follow-up with the next date this week moves it to 本周待跟踪客户 and
    # 本周已跟客户.
    assert "钱多多" in names(zhang, "customers:lead_week_new")
    assert "钱多多" not in names(zhang, "customers:lead_week_due")
    assert "钱多多" not in names(zhang, "customers:lead_week_done")
    url = reverse("customers:lead_detail", args=[lead.pk])
    now = timezone.localtime()
    sunday = timezone.localdate() + timedelta(days=6 - timezone.localdate().weekday())
    r = zhang.post(
        url,
        {
            "_action": "followup",
            "fu-at": now.strftime("%Y-%m-%dT%H:%M"),
            "fu-method": item("followup_method", "电话"),
            "fu-content": "电话沟通,对会籍感兴趣",
            "fu-intent": item("intent_level", "高"),
            "fu-next_on": sunday.isoformat(),
        },
    )
    assert r.status_code == 200, r.content.decode()[:3000]
    lead.refresh_from_db()
    assert lead.next_followup_on == sunday and lead.last_followup_at is not None
    assert "钱多多" in names(zhang, "customers:lead_week_due")
    assert "钱多多" in names(zhang, "customers:lead_week_done")
    # 刘洋, the other rep of the team, neither sees nor follows it.
    assert liu.get(url).status_code == 404
    assert "钱多多" not in names(liu, "customers:lead_list")

    # 【转客户】: the registration starts pre-filled from the lead.
    create = reverse("workflow:create", args=["customer"])
    r = zhang.get(create, {"source": "lead", "pick": lead.pk})
    form = r.context["form"]
    assert form.initial["name"] == "钱多多" and form.initial["lead"] == lead.pk
    data = {
        "_action": "submit",
        "name": "钱多多",
        "gender": "M",
        "mobile": "13912345678",
        "id_number": "110101198001010053",
        "source": item("customer_source", "转介绍"),
        "hobbies": [item("hobby", "高尔夫"), item("hobby", "红酒")],
        "hobby_note": "周末打球",
        "sms_consent": "on",
        "sms_consent_source": "纸质登记表",
        "lead": lead.pk,
    }
    r = zhang.post(create, data)
    assert r.status_code == 302, r.content.decode()[:3000]
    customer = Customer.objects.get(lead=lead)
    assert customer.status == CustomerStatus.REGISTERING and customer.owner == people["张伟"]
    reg = Application.objects.get(pk=customer.application_id)

    # 李明 reviews (【提交】), 王建国 approves: a formal customer with a member card number.
    r = act(li, reg, "approve", opinion="资料齐全")
    assert r.status_code == 302
    assert [str(m) for m in get_messages(r.wsgi_request)][-1] == "已提交。"  # step 1's own label, not step 2's
    assert act(wang, reg, "approve", opinion="同意").status_code == 302
    customer.refresh_from_db()
    lead.refresh_from_db()
    assert customer.status == CustomerStatus.FORMAL
    assert customer.card_no and customer.card_no.startswith(f"JSH{timezone.localdate().year}")
    assert (lead.status, lead.customer) == (LeadStatus.CONVERTED, customer)
    assert sorted(h.label for h in customer.hobbies.all()) == ["红酒", "高尔夫"]
    assert customer.sms_consent and customer.sms_consent_at is not None

    # It appears under 〖客户跟踪〗 for 张伟, not for 刘洋.
    assert "钱多多" in names(zhang, "customers:customer_list")
    assert "钱多多" in names(zhang, "customers:customer_week_new")
    curl = reverse("customers:customer_detail", args=[customer.pk])
    assert liu.get(curl).status_code == 404
    # what was learnt while it was a lead is read on the customer's 跟踪记录 too
    page = zhang.get(curl).content.decode()
    earlier = page.split('data-testid="lead-followups"')[1].split("</table>")[0]
    assert "电话沟通,对会籍感兴趣" in earlier and "转客户之前,作为潜在客户「钱多多」的跟踪记录" in page

    # 张伟 fills 房产 and 车辆 inline.
    r = zhang.post(
        curl,
        {
            "_action": "parts",
            "_part": "properties",
            "properties-TOTAL_FORMS": "1",
            "properties-INITIAL_FORMS": "0",
            "properties-0-community": "汤臣一品",
            "properties-0-district": "浦东",
            "properties-0-area": "320",
            "properties-0-usage": "自住",
        },
    )
    assert r.status_code == 200, r.content.decode()[:3000]
    r = zhang.post(
        curl,
        {
            "_action": "parts",
            "_part": "vehicles",
            "vehicles-TOTAL_FORMS": "1",
            "vehicles-INITIAL_FORMS": "0",
            "vehicles-0-brand": "保时捷",
            "vehicles-0-model": "Cayenne",
            "vehicles-0-plate": "沪A·D1234",
        },
    )
    assert r.status_code == 200
    assert [p.community for p in customer.properties.all()] == ["汤臣一品"]
    assert [v.brand for v in customer.vehicles.all()] == ["保时捷"]

    # 刘洋 cannot follow it up even by posting; 张伟 【移交】s it, 李明 reassigns it to 刘洋.
    assert liu.post(curl, {"_action": "followup"}).status_code == 404
    r = zhang.post(curl, {"_action": "handover", "ho-reason": "客户希望由刘洋对接"})
    assert r.status_code == 200
    page = r.content.decode()  # no longer his: the page says so instead of showing a stale record
    assert "已移交给李明" in page and "已不在您的负责范围内" in page and 'value="handover"' not in page
    customer.refresh_from_db()
    assert (customer.owner, customer.status) == (people["李明"], CustomerStatus.HANDED_OVER)
    r = li.post(curl, {"_action": "assign", "as-to": people["刘洋"].pk, "as-reason": "按客户要求"})
    assert r.status_code == 200, r.content.decode()[:3000]
    customer.refresh_from_db()
    assert (customer.owner, customer.status) == (people["刘洋"], CustomerStatus.FORMAL)
    assert zhang.get(curl).status_code == 404
    assert "钱多多" in names(liu, "customers:customer_list")
    history = list(Handover.objects.filter(customer=customer).values_list("action", "to_user__full_name"))
    assert history == [("approve", "张伟"), ("transfer", "李明"), ("reassign", "刘洋")]
    # the owner's change is audited field by field
    changes = [a.changes for a in AuditLog.objects.filter(object_id=str(customer.pk), changes__has_key="owner")]
    assert ["张伟", "李明"] in [c["owner"] for c in changes] and ["李明", "刘洋"] in [c["owner"] for c in changes]
