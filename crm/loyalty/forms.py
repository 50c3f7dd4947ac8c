"""Forms of the loyalty module: the 积分调整 application (its page is the approval engine's)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.customers.models import Customer

from .models import PointsAdjustment
from .services import MAX_POINTS


class MemberField(forms.ModelChoiceField):
    """A member typed by card number (or mobile), looked up among the customers the user may reach: a select of
    every customer would not scale to the club's hundreds of thousands."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> Customer | None:
        if value in self.empty_values:
            return None
        queryset = self.queryset
        assert queryset is not None
        if isinstance(value, Customer):
            value = value.pk
        if isinstance(value, int):  # the stored value of a form being re-read (a disabled field)
            found = queryset.filter(pk=value).first()
            if found is None:
                raise ValidationError(_("所选会员不存在,或不在您的数据权限范围内。"), code="invalid_choice")
            return found
        text = str(value).strip()
        matches = list(queryset.filter(Q(card_no=text) | Q(mobile=text))[:2]) if text else []
        if not matches:
            raise ValidationError(
                _("找不到会员卡号或手机号为「%(value)s」的会员,或不在您的数据权限范围内。") % {"value": text[:30]},
                code="invalid_choice",
            )
        if len(matches) > 1:
            raise ValidationError(_("手机号「%(value)s」对应多位会员,请输入会员卡号。") % {"value": text})
        return matches[0]

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, Customer):
            return value.card_no or value.mobile
        if isinstance(value, int):
            row = Customer.objects.filter(pk=value).values_list("card_no", "mobile").first()
            return (row[0] or row[1]) if row else ""
        return value


class PointsAdjustmentForm(forms.ModelForm):
    takes_user = True

    customer = MemberField(
        queryset=Customer.objects.none(),
        label=gettext_lazy("会员"),
        help_text=gettext_lazy("输入会员卡号或手机号,或用【来源数据】选择客户。"),
    )

    class Meta:
        model = PointsAdjustment
        fields = ["customer", "points", "reason"]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.formal().for_user(user)  # type: ignore[attr-defined]

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise ValidationError(_("调整积分不能为 0。"))
        if abs(points) > MAX_POINTS:
            raise ValidationError(_("一次的积分不能超过 %(max)s。") % {"max": f"{MAX_POINTS:,}"})
        return int(points)

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise ValidationError(_("请填写调整原因。"))
        return reason
