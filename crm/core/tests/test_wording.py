"""Django's own refusals as the club's staff read them: one plain Chinese sentence naming the field by its label."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.urls import reverse

from crm.core.models import DictType

pytestmark = pytest.mark.django_db


def _dict_post(code: str, name: str, items: list[tuple[str, str]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": code,
        "name": name,
        "description": "",
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for i, (item_code, label) in enumerate(items):
        data.update({f"items-{i}-code": item_code, f"items-{i}-label": label, f"items-{i}-sort": i})
    return data


def test_duplicates_in_the_rows_and_in_the_table_are_named_by_their_labels(client_for: Any, demo: Any) -> None:
    admin = client_for("管理员")
    url = reverse("core:dict_create")
    r = admin.post(url, _dict_post("vip_kind", "贵宾类别", [("a", "甲"), ("a", "乙")]))
    assert r.status_code == 422
    assert "「编码」有重复,每一行须各不相同。" in r.content.decode()
    r = admin.post(url, _dict_post("hobby", "兴趣爱好", [("z", "丙")]))
    assert r.status_code == 422
    assert "已有相同编码的数据字典。" in r.content.decode()
    assert not DictType.objects.filter(code="vip_kind").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (forms.DecimalField(max_digits=8, decimal_places=2), "99999999999", "数字太大:最多 8 位数字。"),
        (forms.DecimalField(max_digits=8, decimal_places=2), "1.234", "最多 2 位小数。"),
        (forms.CharField(max_length=3), "abcd", "最多 3 个字(现在 4 个)。"),
        (forms.IntegerField(min_value=1), "0", "不能小于 1。"),
        (forms.SlugField(), "bad code!", "只能使用英文字母、数字、下划线(_)或连字符(-)。"),
        (forms.ChoiceField(choices=[("a", "甲")]), "b", "「b」不是可选的项,请重新选择。"),
    ],
)
def test_field_refusals_read_as_plain_chinese(field: forms.Field, value: str, message: str) -> None:
    with pytest.raises(forms.ValidationError) as refused:
        field.clean(value)
    assert refused.value.messages == [message]


def test_every_audit_entry_reads_in_labels(client_for: Any, demo: Any) -> None:
    """Entries of every kind open (a dictionary's items and a chain's steps are relations, not fields)."""
    from crm.core.audit import readable_changes
    from crm.core.models import AuditLog

    admin = client_for("管理员")
    source = DictType.objects.get(code="customer_source")
    items = list(source.items.order_by("sort", "id"))
    data = _dict_post(source.code, source.name, [(i.code, i.label) for i in items])
    data.update({"items-INITIAL_FORMS": str(len(items)), **{f"items-{n}-id": i.pk for n, i in enumerate(items)}})
    data.update({f"items-{n}-is_active": "on" for n in range(1, len(items))})  # the first one switched off
    assert admin.post(reverse("core:dict_edit", args=[source.pk]), data).status_code == 302
    entry = AuditLog.objects.filter(object_repr=str(source)).latest("id")
    ((label, text),) = readable_changes(entry)
    assert label == "字典项" and "(停用)" in text.split(" → ")[1]
    for entry in AuditLog.objects.all():
        assert admin.get(reverse("core:audit_detail", args=[entry.pk])).status_code == 200


def test_a_chain_s_steps_read_as_before_and_after(demo: Any) -> None:
    from django.contrib.contenttypes.models import ContentType

    from crm.core.audit import readable_changes
    from crm.core.models import AuditLog
    from crm.workflow.models import Chain

    entry = AuditLog.objects.create(
        action="update",
        content_type=ContentType.objects.get_for_model(Chain),
        changes={"steps": [["1 经理复核"], ["1 经理复核", "2 总监审批"]]},
    )
    assert readable_changes(entry) == [("审批步骤", "1 经理复核 → 1 经理复核、2 总监审批")]


def _existing(source: DictType) -> dict[str, Any]:
    items = list(source.items.order_by("sort", "id"))
    data = _dict_post("renamed", source.name, [(i.code, i.label) for i in items])
    data.update({"items-INITIAL_FORMS": str(len(items)), **{f"items-{n}-id": i.pk for n, i in enumerate(items)}})
    data.update({f"items-{n}-is_active": "on" for n in range(len(items))})
    return data


def test_an_item_in_use_is_not_deleted_but_said_and_the_code_stays(client_for: Any, people: dict[str, Any]) -> None:
    from crm.customers.models import Lead

    source = DictType.objects.get(code="customer_source")
    used = source.items.order_by("sort", "id").first()
    Lead.objects.create(
        name="钱", mobile="13900000001", owner=people["张伟"], registered_by=people["张伟"], source=used
    )
    admin = client_for("管理员")
    data = {**_existing(source), "items-0-DELETE": "on"}
    r = admin.post(reverse("core:dict_edit", args=[source.pk]), data)
    assert r.status_code == 409
    assert f"「{used.label}」已有记录在用,不能删除;如不再使用,请取消它的「启用」。" in r.content.decode()
    assert source.items.filter(pk=used.pk).exists()
    del data["items-0-DELETE"]
    assert admin.post(reverse("core:dict_edit", args=[source.pk]), data).status_code == 302
    assert DictType.objects.get(pk=source.pk).code == "customer_source"  # the code is not changed once created


def test_a_new_dictionary_once_saved_is_its_own_page(client_for: Any, demo: Any) -> None:
    admin = client_for("管理员")
    data = _dict_post("vip_kind", "贵宾类别", [("a", "甲")])
    r = admin.post(reverse("core:dict_create"), data, HTTP_HX_REQUEST="true")
    saved = DictType.objects.get(code="vip_kind")
    page = r.content.decode()
    assert f'hx-post="{reverse("core:dict_edit", args=[saved.pk])}"' in page and 'data-crm-title="贵宾类别"' in page
    admin.post(reverse("core:dict_edit", args=[saved.pk]), {**data, "name": "贵宾类型"}, HTTP_HX_REQUEST="true")
    assert DictType.objects.filter(code="vip_kind").count() == 1  # a second 【保存】 changed it, made no other


def test_an_api_client_s_operations_read_by_name_in_the_audit(demo: Any) -> None:
    from crm.core.api import OPERATIONS, autodiscover
    from crm.core.audit import readable_changes
    from crm.core.models import AuditLog
    from crm.core.services import api_client_create

    autodiscover()
    client, _key = api_client_create(actor=None, name="前台 POS", operations=["consumption.post"])
    entry = AuditLog.objects.filter(object_id=str(client.pk), content_type__model="apiclient").latest("id")
    assert dict(readable_changes(entry))["允许的操作"] == f"— → {OPERATIONS['consumption.post']}"
