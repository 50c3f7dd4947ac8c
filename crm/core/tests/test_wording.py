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
