"""The customer profile as its viewers see it: masked numbers, the checks of its inline rows, confirmations."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.core.models import AuditLog, DictItem
from crm.customers import services
from crm.customers.forms import LeadForm
from crm.customers.models import Anniversary, Customer, FamilyMember, Lead, Property, Vehicle
from crm.customers.services import CustomerError
from crm.workflow.models import Application

pytestmark = pytest.mark.django_db

MOBILE, ID_NUMBER = "13912345678", "110101198001010053"


def _register(client: Any) -> Application:
    """张伟 registers a customer; the registration waits for 李明's review."""
    source = DictItem.objects.get(dict_type__code="customer_source", label="转介绍").pk
    data = {"_action": "submit", "name": "钱多多", "gender": "M", "mobile": MOBILE, "id_number": ID_NUMBER}
    r = client.post(reverse("workflow:create", args=["customer"]), {**data, "source": source})
    assert r.status_code == 302, r.content.decode()[:2000]
    return Application.objects.get()


def _approve(client_for: Any, app: Application) -> None:
    for who in ("李明", "王建国"):
        r = client_for(who).post(reverse("workflow:detail", args=[app.pk]), {"_action": "approve", "opinion": "同意"})
        assert r.status_code == 302


def test_numbers_are_masked_on_pages_as_in_lists_except_for_the_owner_and_the_applicant(
    client_for: Any, people: dict[str, Any]
) -> None:
    zhang, li = client_for("张伟"), client_for("李明")
    app = _register(zhang)
    review = reverse("workflow:detail", args=[app.pk])
    page = li.get(review).content.decode()
    assert "139****5678" in page and "110101********0053" in page
    assert MOBILE not in page and ID_NUMBER not in page
    assert MOBILE in zhang.get(review).content.decode()  # the applicant sees what he typed
    _approve(client_for, app)
    customer = Customer.objects.get(application=app)
    profile = reverse("customers:customer_detail", args=[customer.pk])
    page = li.get(profile).content.decode()
    assert "139****5678" in page and MOBILE not in page and ID_NUMBER not in page
    assert MOBILE in client_for("管理员").get(profile).content.decode()  # 查看完整手机号与身份证号
    own = zhang.get(profile).content.decode()  # the owner calls and corrects them
    assert MOBILE in own and ID_NUMBER in own
    # what the owner saves is what he typed; a leader's page never posts the mask back
    customer.refresh_from_db()
    assert (customer.mobile, customer.id_number) == (MOBILE, ID_NUMBER)


def _member(owner: Any) -> Customer:
    return Customer.objects.create(
        name="孙总",
        mobile="13900002222",
        owner=owner,
        department=owner.department,
        registered_by=owner,
        status="formal",
        owned_since=timezone.now(),
    )


def _rows(part: str, prefix: str, rows: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "_action": "parts",
        "_part": part,
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "30",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


@pytest.mark.parametrize(
    ("part", "row", "message"),
    [
        ("properties", {"community": "万科城", "area": "-5"}, "建筑面积须大于 0。"),
        ("properties", {"community": "万科城", "area": "0"}, "建筑面积须大于 0。"),
        ("properties", {"community": "万科城", "area": "99999999999"}, "数字太大:最多 8 位数字。"),
        ("properties", {"community": "万科城", "area": "1.234"}, "最多 2 位小数。"),
        ("properties", {"community": "万科城", "address": "路" * 201}, "最多 200 个字(现在 201 个)。"),
        ("vehicles", {"brand": "奔驰", "plate": "!!!???"}, "车牌只能由汉字、字母和数字组成"),
        ("family", {"relation": "儿子", "name": "孙小", "birthday": "2099-05-01"}, "生日不能晚于今天。"),
        ("family", {"relation": "父亲", "name": "孙老", "birthday": "1800-01-01"}, "生日不能早于 1900 年。"),
        ("anniversaries", {"name": "结婚纪念日", "date": "1899-01-01"}, "纪念日的日期不能早于 1900 年。"),
        ("anniversaries", {"name": "结婚纪念日", "date": "2099-01-01"}, "纪念日的日期不能晚于今天。"),
    ],
)
def test_impossible_rows_are_refused_in_plain_chinese_and_nothing_saved(
    client_for: Any, people: dict[str, Any], part: str, row: dict[str, Any], message: str
) -> None:
    customer = _member(people["张伟"])
    url = reverse("customers:customer_detail", args=[customer.pk])
    r = client_for("张伟").post(url, _rows(part, part, [row]))
    assert r.status_code == 422
    assert message in r.content.decode()
    assert not any(m.objects.exists() for m in (Property, Vehicle, FamilyMember, Anniversary))


def test_plates_are_kept_as_written_on_the_plate(client_for: Any, people: dict[str, Any]) -> None:
    customer = _member(people["张伟"])
    url = reverse("customers:customer_detail", args=[customer.pk])
    rows = [{"brand": "奔驰", "plate": "京a·12345"}, {"brand": "宝马", "plate": "粤Z 1234港"}]
    assert client_for("张伟").post(url, _rows("vehicles", "vehicles", rows)).status_code == 200
    assert sorted(Vehicle.objects.values_list("plate", flat=True)) == ["京A12345", "粤Z1234港"]


def test_a_row_deleted_in_another_window_is_named_and_the_page_can_be_saved_after_a_refresh(
    client_for: Any, people: dict[str, Any]
) -> None:
    customer = _member(people["张伟"])
    gone = Property.objects.create(customer=customer, community="万科城", area=120)
    url = reverse("customers:customer_detail", args=[customer.pk])
    stale = _rows("properties", "properties", [{"id": gone.pk, "community": "万科城", "area": "130"}], initial=1)
    gone.delete()
    zhang = client_for("张伟")
    r = zhang.post(url, stale)
    assert r.status_code == 422
    assert "有一行已被删除(可能是在另一个窗口),请刷新页面后再保存。" in r.content.decode()
    fresh = _rows("properties", "properties", [{"community": "万科城", "area": "130"}])
    assert zhang.post(url, fresh).status_code == 200
    assert list(Property.objects.values_list("area", flat=True)) == [130]


def test_the_handover_asks_first(client_for: Any, people: dict[str, Any]) -> None:
    customer = _member(people["张伟"])
    page = client_for("张伟").get(reverse("customers:customer_detail", args=[customer.pk])).content.decode()
    assert 'value="handover" data-confirm="移交后「孙总」交由上级重新分配,您将不能再查看和跟进。确定移交吗?"' in page


def test_a_lead_waits_for_its_open_registration(client_for: Any, people: dict[str, Any]) -> None:
    """While the registration made by 【转客户】 is a draft or in review, the lead is not converted a second time,
    closed or handed over: the approval would otherwise convert a lead that is no longer the rep's."""
    zhang = client_for("张伟")
    lead = Lead.objects.create(
        name="钱多多", mobile="13912345678", owner=people["张伟"], registered_by=people["张伟"], status="following"
    )
    lead_url = reverse("customers:lead_detail", args=[lead.pk])
    assert "转客户" in zhang.get(lead_url).content.decode()
    create = reverse("workflow:create", args=["customer"])
    data = {"_action": "submit", "name": "钱多多", "gender": "M", "mobile": "13912345678", "lead": lead.pk}
    assert zhang.post(create, {**data, "confirm_duplicate": "on"}).status_code == 302
    page = zhang.get(lead_url).content.decode()
    assert "已有一张由它转来的客户登记「审批中」;登记处理完之前,不能再转客户、关闭或移交。" in page
    assert 'value="close"' not in page and 'value="handover"' not in page and "?source=lead" not in page
    again = zhang.post(create, {**data, "confirm_duplicate": "on"})  # a second registration from a stale page
    assert again.status_code == 422
    assert "来源潜在客户不存在、不归您跟进、已经转为客户,或已有另一张客户登记。" in again.content.decode()
    assert Customer.objects.filter(lead=lead).count() == 1
    refused = "「钱多多」已有一张客户登记「审批中」,不能关闭;请先在〖客户登记〗中处理那张登记。"
    with pytest.raises(CustomerError, match=refused):
        services.lead_close(
            actor=people["张伟"], lead=lead, reason=DictItem.objects.filter(dict_type__code="close_reason").first()
        )
    with pytest.raises(CustomerError, match="不能移交"):
        services.hand_over(actor=people["张伟"], obj=lead)


def test_a_refused_registration_holds_no_number_and_one_in_review_says_so(
    client_for: Any, people: dict[str, Any]
) -> None:
    app = _register(client_for("张伟"))
    form = LeadForm({"name": "钱先生", "mobile": MOBILE}, user=people["刘洋"])
    assert not form.is_valid()
    assert "139****5678 已登记为客户「钱多多」(审批中,负责人:张伟)" in " ".join(form.non_field_errors())
    r = client_for("李明").post(reverse("workflow:detail", args=[app.pk]), {"_action": "reject", "opinion": "信息不实"})
    assert r.status_code == 302
    assert LeadForm({"name": "钱先生", "mobile": MOBILE}, user=people["刘洋"]).is_valid()


def test_the_customer_s_audit_reads_in_labels_with_its_ip(client_for: Any, people: dict[str, Any]) -> None:
    zhang = client_for("张伟")
    app = _register(zhang)
    _approve(client_for, app)
    customer = Customer.objects.get(application=app)
    approved = AuditLog.objects.filter(object_id=str(customer.pk), actor_name="王建国").get()
    assert set(approved.changes) == {"status", "card_no"}  # what made it formal
    r = zhang.post(reverse("customers:customer_detail", args=[customer.pk]), {"_action": "handover", "ho-reason": ""})
    assert r.status_code in (200, 302)
    handed = AuditLog.objects.filter(object_id=str(customer.pk), actor_name="张伟").latest("id")
    assert handed.ip == "127.0.0.1"
    page = client_for("管理员").get(reverse("core:audit_detail", args=[handed.pk])).content.decode()
    rows = page.split('data-testid="audit-changes"')[1]
    assert "<td>状态</td><td>正式客户 → 待重新分配</td>" in rows and "<td>负责人</td><td>张伟 → 李明</td>" in rows
    assert "handed_over" not in rows


def test_a_switched_off_dictionary_item_stays_on_the_records_holding_it(
    client_for: Any, people: dict[str, Any]
) -> None:
    source = DictItem.objects.get(dict_type__code="customer_source", label="转介绍")
    customer = _member(people["张伟"])
    Customer.objects.filter(pk=customer.pk).update(source=source)
    DictItem.objects.filter(pk=source.pk).update(is_active=False)
    zhang = client_for("张伟")
    url = reverse("customers:customer_detail", args=[customer.pk])
    form = zhang.get(url).context["basic_form"]
    assert form.initial["source"] == source.pk and "转介绍(停用)" in str(form["source"])
    data = {
        f"basic-{k}": v for k, v in {"name": "孙总", "gender": "", "mobile": "13900002222", "source": source.pk}.items()
    }
    r = zhang.post(url, {"_action": "save", **data, "basic-company": "孙氏集团"})
    assert r.status_code == 200, r.content.decode()[:500]
    customer.refresh_from_db()
    assert (customer.company, customer.source_id) == ("孙氏集团", source.pk)  # kept, not blanked
    other = _member(people["张伟"])
    new_form = zhang.get(reverse("customers:customer_detail", args=[other.pk])).context["basic_form"]
    assert source.pk not in [item.pk for item in new_form.fields["source"].queryset]  # not offered anew
    found = client_for("李明").get(reverse("customers:customer_list"), {"source": source.pk}).context["rows"]
    assert [row["obj"].pk for row in found] == [customer.pk]  # old records are still found by it


def test_a_customer_converted_from_a_lead_is_no_duplicate_of_it(people: dict[str, Any]) -> None:
    from crm.customers.forms import CustomerBasicForm

    zhang = people["张伟"]
    lead = Lead.objects.create(
        name="王小明", mobile="13900005678", registered_by=zhang, owner=zhang, status="converted"
    )
    customer = _member(zhang)
    Customer.objects.filter(pk=customer.pk).update(mobile=lead.mobile, lead=lead, name=lead.name)
    customer.refresh_from_db()
    data = {f"basic-{k}": v for k, v in {"name": customer.name, "mobile": customer.mobile, "gender": ""}.items()}
    form = CustomerBasicForm(data, instance=customer, user=zhang, prefix="basic")
    assert form.is_valid(), form.errors
    assert not form.duplicates
    other = Lead.objects.create(
        name="另一人", mobile="13900009999", registered_by=zhang, owner=zhang, status="following"
    )
    data["basic-mobile"] = other.mobile  # a lead that is not its own still is
    form = CustomerBasicForm(data, instance=customer, user=zhang, prefix="basic")
    assert not form.is_valid() and "已登记为潜在客户「另一人」" in form.duplicates[0]


def _as_shown(client: Any, url: str, form_name: str = "basic_form") -> dict[str, Any]:
    """What a page's form posts back untouched: its fields as rendered, the signed token of what it showed too."""
    form = client.get(url).context[form_name]
    data: dict[str, Any] = {}
    for bf in form:
        value = bf.value()
        if bf.field.disabled:
            continue
        if isinstance(value, bool):
            if value:
                data[bf.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bf.html_name] = [str(v) for v in value]
        else:
            data[bf.html_name] = "" if value is None else str(value)
    return data


def test_two_tabs_saving_one_customer_keep_each_other_s_changes(client_for: Any, people: dict[str, Any]) -> None:
    customer = _member(people["张伟"])
    Customer.objects.filter(pk=customer.pk).update(title="董事长", company="孙氏")
    zhang = client_for("张伟")
    url = reverse("customers:customer_detail", args=[customer.pk])
    tab_a, tab_b = _as_shown(zhang, url), _as_shown(zhang, url)
    r = zhang.post(url, {"_action": "save", **tab_a, "basic-title": "董事长-第一次"}, follow=True)
    assert "已保存。" in r.content.decode()
    r = zhang.post(url, {"_action": "save", **tab_b, "basic-company": "公司-第二次"}, follow=True)
    assert "已保存。「职位」在您打开这一页之后已被修改过,保留了修改后的内容。" in r.content.decode()
    customer.refresh_from_db()
    assert (customer.title, customer.company) == ("董事长-第一次", "公司-第二次")


def test_a_field_both_tabs_changed_is_refused_then_saved_when_saved_again(
    client_for: Any, people: dict[str, Any]
) -> None:
    customer = _member(people["张伟"])
    Customer.objects.filter(pk=customer.pk).update(title="董事长", company="孙氏")
    zhang = client_for("张伟")
    url = reverse("customers:customer_detail", args=[customer.pk])
    tab_a, tab_b = _as_shown(zhang, url), _as_shown(zhang, url)
    zhang.post(url, {"_action": "save", **tab_a, "basic-title": "总经理", "basic-company": "孙氏集团"})
    r = zhang.post(url, {"_action": "save", **tab_b, "basic-title": "董事", "basic-address": "静安区"})
    assert r.status_code == 422
    page = r.content.decode()
    assert "这一项已被修改为「总经理」" in page
    customer.refresh_from_db()
    assert (customer.title, customer.company) == ("总经理", "孙氏集团")  # nothing written by the refusal
    form = r.context["basic_form"]
    # what was typed stays; what changed meanwhile and was left as shown is as it is now
    assert (form["title"].value(), form["address"].value(), form["company"].value()) == ("董事", "静安区", "孙氏集团")
    zhang.post(url, {**_bound(form), "_action": "save"})
    customer.refresh_from_db()
    assert (customer.title, customer.address, customer.company) == ("董事", "静安区", "孙氏集团")


def _bound(form: Any) -> dict[str, Any]:
    """A bound form's data, as the page it re-renders would post it again."""
    return {k: form.data.getlist(k) if len(form.data.getlist(k)) > 1 else form.data.get(k) for k in form.data}


def test_hobbies_saved_in_another_tab_stay_when_the_note_is_saved(client_for: Any, people: dict[str, Any]) -> None:
    customer = _member(people["张伟"])
    golf = DictItem.objects.filter(dict_type__code="hobby").first()
    assert golf is not None
    zhang = client_for("张伟")
    url = reverse("customers:customer_detail", args=[customer.pk])
    tab_a, tab_b = _as_shown(zhang, url, "hobby_form"), _as_shown(zhang, url, "hobby_form")
    zhang.post(url, {"_action": "hobbies", **tab_a, "hobby-hobbies": [str(golf.pk)]})
    assert list(customer.hobbies.all()) == [golf]
    zhang.post(url, {"_action": "hobbies", **tab_b, "hobby-hobby_note": "周末打球"})
    customer.refresh_from_db()
    assert (list(customer.hobbies.all()), customer.hobby_note) == ([golf], "周末打球")
