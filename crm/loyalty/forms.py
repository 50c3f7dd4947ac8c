"""Forms of the loyalty module: the 积分调整 application (its page is the approval engine's), 消费录入 and
退款, and the 积分规则 page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q
from django.db.models.fields import BLANK_CHOICE_LABEL
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.validators import normalize_mobile
from crm.customers.models import Customer

from .models import Category, LoyaltySettings, PaymentMethod, PointsAdjustment
from .services import MAX_AMOUNT, MAX_POINTS


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
        text = str(value).strip().replace("\x00", "")  # PostgreSQL refuses a NUL in a query
        # as the API and the list search read them: a card number in any case, a mobile with dashes or +86
        card, mobile = text.upper(), normalize_mobile(text)
        matches = list(queryset.filter(Q(card_no=card) | Q(mobile=mobile))[:2]) if text else []
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
        self.fields["points"].error_messages["required"] = _("请填写调整积分。")
        self.fields["reason"].error_messages["required"] = _("请填写调整原因。")

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


# ---------------------------------------------------------------------------------------------------
# 消费录入 and 退款
# ---------------------------------------------------------------------------------------------------

MOMENT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


def _moment_field(label: Any, *, required: bool = True) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=MOMENT_FORMATS,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": gettext_lazy("请填写时间。"),
            "invalid": gettext_lazy("请输入正确的日期和时间,如 2026-11-20 19:30。"),
        },
    )


def _amount_field(label: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
        error_messages={
            "required": gettext_lazy("请填写金额。"),
            "invalid": gettext_lazy("请输入金额,如 1280.50。"),
            "min_value": gettext_lazy("金额必须大于 0。"),
            "max_value": gettext_lazy("金额不能超过 10,000,000 元。"),
            "max_digits": gettext_lazy("金额不能超过 10,000,000 元。"),
            "max_whole_digits": gettext_lazy("金额不能超过 10,000,000 元。"),
            "max_decimal_places": gettext_lazy("金额最多保留两位小数(精确到分)。"),
        },
    )


def _choices(choices: Any) -> list[tuple[str, Any]]:
    return [("", BLANK_CHOICE_LABEL), *choices.choices]  # ——请选择——, as every other choice reads


class ConsumptionForm(forms.Form):
    """消费录入: a sale entered by hand, for a member within the user's data scope."""

    customer = MemberField(
        queryset=Customer.objects.none(),
        label=gettext_lazy("会员"),
        help_text=gettext_lazy("输入会员卡号或手机号。"),
        error_messages={"required": gettext_lazy("请输入会员卡号或手机号。")},
    )
    occurred_at = _moment_field(gettext_lazy("消费时间"))
    amount = _amount_field(gettext_lazy("金额(元)"))
    category = forms.ChoiceField(
        label=gettext_lazy("消费类别"),
        choices=_choices(Category),
        error_messages={
            "required": gettext_lazy("请选择消费类别。"),
            "invalid_choice": gettext_lazy("请从列表中选择消费类别。"),
        },
    )
    venue = forms.CharField(label=gettext_lazy("消费场所"), max_length=100, required=False)
    order_no = forms.CharField(
        label=gettext_lazy("订单号"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("同一订单号只计一次。"),
    )
    payment = forms.ChoiceField(
        label=gettext_lazy("支付方式"),
        choices=_choices(PaymentMethod),
        required=False,
        error_messages={"invalid_choice": gettext_lazy("请从列表中选择支付方式。")},
    )
    note = forms.CharField(label=gettext_lazy("备注"), max_length=200, required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = Customer.objects.formal().for_user(user)  # type: ignore[attr-defined]


class RefundForm(forms.Form):
    """【退款】 of one sale: how much, when, the refund's own number and why."""

    amount = _amount_field(gettext_lazy("退款金额(元)"))
    occurred_at = _moment_field(gettext_lazy("退款时间"))
    order_no = forms.CharField(label=gettext_lazy("退款单号"), max_length=64, required=False)
    note = forms.CharField(label=gettext_lazy("退款原因"), max_length=200, required=False)


# ---------------------------------------------------------------------------------------------------
# 系统管理 › 积分规则
# ---------------------------------------------------------------------------------------------------


class RulesForm(forms.ModelForm):
    BOUNDS = {"window_months": (1, 60), "expiry_months": (0, 120)}  # as services.settings_update checks them

    class Meta:
        model = LoyaltySettings
        fields = ["window_months", "rounding", "expiry_months"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (low, high) in self.BOUNDS.items():
            field = self.fields[name]
            out_of_range = _("%(label)s必须在 %(low)d 到 %(high)d 之间。") % {
                "label": field.label,
                "low": low,
                "high": high,
            }
            field.validators = [MinValueValidator(low, out_of_range), MaxValueValidator(high, out_of_range)]


class LevelForm(forms.Form):
    """One member level of the 积分规则 page. A plain form, not a model form: the levels are checked as a whole
    by ``services.rules_update``, so that one save may renumber them."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(
        label=gettext_lazy("等级名称"),
        max_length=20,
        error_messages={"required": gettext_lazy("请填写等级名称。")},
    )
    rank = forms.IntegerField(
        label=gettext_lazy("级别"),
        min_value=0,
        max_value=100,
        error_messages={
            "required": gettext_lazy("请填写级别。"),
            "invalid": gettext_lazy("级别必须是整数。"),
            "min_value": gettext_lazy("级别必须在 0 到 100 之间。"),
            "max_value": gettext_lazy("级别必须在 0 到 100 之间。"),
        },
    )
    threshold = forms.DecimalField(
        label=gettext_lazy("升级门槛(元)"),
        max_digits=14,
        decimal_places=2,
        min_value=0,
        error_messages={
            "required": gettext_lazy("请填写升级门槛。"),
            "invalid": gettext_lazy("升级门槛必须是金额,如 50000。"),
            "min_value": gettext_lazy("升级门槛不能小于 0。"),
            "max_digits": gettext_lazy("升级门槛太大。"),
            "max_whole_digits": gettext_lazy("升级门槛太大。"),
            "max_decimal_places": gettext_lazy("升级门槛最多保留两位小数(精确到分)。"),
        },
    )
    multiplier = forms.DecimalField(
        label=gettext_lazy("积分倍率"),
        max_digits=5,
        decimal_places=2,
        error_messages={
            "required": gettext_lazy("请填写积分倍率。"),
            "invalid": gettext_lazy("积分倍率必须是数字,如 1.5。"),
            "max_digits": gettext_lazy("积分倍率必须在 0 到 100 之间,最多两位小数。"),
            "max_whole_digits": gettext_lazy("积分倍率必须在 0 到 100 之间,最多两位小数。"),
            "max_decimal_places": gettext_lazy("积分倍率必须在 0 到 100 之间,最多两位小数。"),
        },
    )

    def clean_multiplier(self) -> Decimal:
        rate: Decimal = self.cleaned_data["multiplier"]
        if rate <= 0:
            raise ValidationError(_("积分倍率必须大于 0。"))
        if rate > 100:
            raise ValidationError(_("积分倍率必须在 0 到 100 之间,最多两位小数。"))
        return rate


LevelFormSet = forms.formset_factory(
    LevelForm, extra=1, can_delete=True, max_num=30, absolute_max=30, validate_max=True
)
