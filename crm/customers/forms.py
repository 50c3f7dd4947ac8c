from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.accounts.models import User
from crm.core.forms import (
    DateInput,
    KeepsOthersEdits,
    ModelMultipleChoiceField,
    RowsFormSet,
    all_items_choice,
    local_midnight,
    offer_active_items,
)
from crm.core.lists import ListFilterForm
from crm.core.models import DictItem
from crm.core.textsearch import digits_q, name_q, search_mobile, search_name
from crm.core.validators import normalize_mobile, validate_id_number, validate_mobile
from crm.workflow.forms import TaskFilterForm

from .models import Anniversary, Customer, CustomerStatus, FamilyMember, FollowUp, Lead, LeadStatus, Property, Vehicle
from .selectors import card_q, find_duplicates, leads_to_convert

DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
EARLIEST = date(1900, 1, 1)  # no date a person's record holds is earlier: an earlier one is a typing mistake


def past_date(value: date | None, what: Any) -> date | None:
    """A date of someone's life (a birthday, an anniversary): not after today, not before 1900."""
    if value and value > timezone.localdate():
        raise forms.ValidationError(_("%(what)s不能晚于今天。") % {"what": what})
    if value and value < EARLIEST:
        raise forms.ValidationError(_("%(what)s不能早于 1900 年。") % {"what": what})
    return value


class PartyForm(KeepsOthersEdits):
    """The fields leads and customers share, cleaned as the club types them (full-width digits, spaces,
    +86), and the duplicate check: a mobile or ID number already registered is shown with its owner, and the
    form is saved only once the person confirms it is someone else."""

    takes_user = True
    # Longer than the stored 11 digits: "+86 138 0000 0000" as people type it is cleaned to them.
    mobile = forms.CharField(label=_("手机号"), max_length=20, required=False)
    # Shown only once a duplicate was found.
    confirm_duplicate = forms.BooleanField(label=_("确认不是同一人,仍然保存"), required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_active_items(self)
        self.user = user
        self.duplicates: list[str] = []
        if "mobile" in self.fields:
            self.fields["mobile"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})

    def clean_name(self) -> str:
        value = " ".join((self.cleaned_data.get("name") or "").split())
        if not value:
            raise forms.ValidationError(_("请填写姓名。"))
        return value

    def clean_mobile(self) -> str:
        value = normalize_mobile("".join((self.cleaned_data.get("mobile") or "").translate(DIGITS).split()))
        if value:
            validate_mobile(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        found = find_duplicates(
            mobile=data.get("mobile", ""),
            id_number=data.get("id_number", ""),
            **self.exclude_self(),
        )
        if found and not data.get("confirm_duplicate"):
            self.duplicates = [d.describe(self.user) for d in found]
            self.fields["confirm_duplicate"].widget = forms.CheckboxInput()
            raise forms.ValidationError(
                [*self.duplicates, _("请核对是否为同一人;确认不是同一人时,勾选「确认不是同一人,仍然保存」后再保存。")],
                code="duplicate",
            )
        return data

    def exclude_self(self) -> dict[str, int | None]:
        return {}


class LeadForm(PartyForm):
    class Meta:
        model = Lead
        fields = ["name", "gender", "mobile", "company", "title", "source", "intent", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}

    def exclude_self(self) -> dict[str, int | None]:
        return {"exclude_lead": self.instance.pk}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and not data.get("mobile"):
            self.add_error("mobile", _("请填写手机号,跟进和查重都靠它。"))
        return data

    def save(self, commit: bool = True) -> Lead:
        lead: Lead = super().save(commit=False)
        if lead.pk is None and self.user is not None:
            lead.registered_by = self.user
            lead.department = self.user.department
        if commit:
            lead.save()
        return lead


CUSTOMER_FIELDS = [
    "name",
    "gender",
    "birthday",
    "mobile",
    "id_number",
    "level",
    "company",
    "title",
    "industry",
    "income_band",
    "address",
    "source",
    "broker_name",
    "sms_consent",
    "sms_consent_source",
    "note",
]


class CustomerForm(PartyForm):
    """客户登记 (the application form) and the profile's 基本信息."""

    class Meta:
        model = Customer
        fields = [*CUSTOMER_FIELDS, "hobbies", "hobby_note", "preferences", "taboos", "lead"]
        widgets = {
            "birthday": DateInput(),
            "note": forms.Textarea(attrs={"rows": 2}),
            "hobbies": forms.CheckboxSelectMultiple,
            "lead": forms.HiddenInput,
        }
        field_classes = {"hobbies": ModelMultipleChoiceField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "lead" in self.fields:
            lead_field = self.fields["lead"]
            assert isinstance(lead_field, forms.ModelChoiceField)
            # 【转客户】 only from a lead of one's own that is still being followed.
            lead_field.queryset = leads_to_convert(self.user, registration=self.instance)
            lead_field.error_messages["invalid_choice"] = _(
                "来源潜在客户不存在、不归您跟进、已经转为客户,或已有另一张客户登记。"
            )

    def exclude_self(self) -> dict[str, int | None]:
        """Not itself, nor the lead it came from (chosen on the registration, or the profile's own)."""
        lead = self.cleaned_data.get("lead")
        return {"exclude_customer": self.instance.pk, "exclude_lead": lead.pk if lead else self.instance.lead_id}

    def clean_id_number(self) -> str:
        value = "".join((self.cleaned_data.get("id_number") or "").translate(DIGITS).split()).upper()
        if value:
            validate_id_number(value)
        return value

    def clean_birthday(self) -> date | None:
        return past_date(self.cleaned_data.get("birthday"), _("生日"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and not (data.get("mobile") or data.get("id_number")):
            self.add_error("mobile", _("手机号和身份证号至少填写一项。"))
        return data

    def save(self, commit: bool = True) -> Customer:
        customer: Customer = super().save(commit=False)
        if customer.pk is None and self.user is not None:
            customer.registered_by = self.user
            customer.owner = self.user
            customer.department = self.user.department
        if customer.sms_consent and customer.sms_consent_at is None:
            customer.sms_consent_at = timezone.now()
        if not customer.sms_consent:
            customer.sms_consent_at = None
        if commit:
            customer.save()
            self.save_m2m()
        return customer


class CustomerBasicForm(CustomerForm):
    """The profile's 基本信息 tab (the hobbies have a tab of their own)."""

    class Meta(CustomerForm.Meta):
        fields = [*CUSTOMER_FIELDS, "preferences", "taboos"]


class HobbyForm(KeepsOthersEdits):
    class Meta:
        model = Customer
        fields = ["hobbies", "hobby_note"]
        widgets = {"hobbies": forms.CheckboxSelectMultiple}
        field_classes = {"hobbies": ModelMultipleChoiceField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_active_items(self)


class PropertyForm(forms.ModelForm):
    def clean_area(self) -> Any:
        value = self.cleaned_data.get("area")
        if value is not None and value <= 0:
            raise forms.ValidationError(_("建筑面积须大于 0。"))
        return value


PLATE = re.compile(r"[\u4e00-\u9fffA-Z0-9]{2,10}")


class VehicleForm(forms.ModelForm):
    def clean_plate(self) -> str:
        value = "".join(self.cleaned_data.get("plate", "").split()).upper()
        value = value.replace("·", "").replace("•", "").replace("-", "")
        if value and not PLATE.fullmatch(value):
            raise forms.ValidationError(_("车牌只能由汉字、字母和数字组成,例如 京A12345。"))
        return value


class FamilyMemberForm(forms.ModelForm):
    def clean_birthday(self) -> date | None:
        return past_date(self.cleaned_data.get("birthday"), _("生日"))


class AnniversaryForm(forms.ModelForm):
    def clean_date(self) -> date | None:
        return past_date(self.cleaned_data.get("date"), _("纪念日的日期"))


def _parts(model: Any, form: Any, fields: list[str], widgets: dict[str, Any] | None = None) -> Any:
    return forms.inlineformset_factory(
        Customer,
        model,
        form=form,
        formset=RowsFormSet,
        fields=fields,
        widgets=widgets or {},
        extra=1,
        can_delete=True,
        max_num=30,
        absolute_max=30,
        validate_max=True,
    )


PropertyFormSet = _parts(Property, PropertyForm, ["community", "district", "address", "area", "layout", "usage"])
VehicleFormSet = _parts(Vehicle, VehicleForm, ["brand", "model", "plate", "color"])
FamilyFormSet = _parts(
    FamilyMember, FamilyMemberForm, ["relation", "name", "birthday", "note"], {"birthday": DateInput()}
)
AnniversaryFormSet = _parts(Anniversary, AnniversaryForm, ["name", "date", "note"], {"date": DateInput()})


class FollowUpForm(forms.ModelForm):
    class Meta:
        model = FollowUp
        fields = ["at", "method", "content", "result", "intent", "next_on"]
        widgets = {
            "at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "next_on": DateInput(),
            "content": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, for_lead: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"at": timezone.localtime().replace(second=0, microsecond=0)})
        super().__init__(*args, **kwargs)
        offer_active_items(self)
        if not for_lead:
            del self.fields["intent"]
        self.fields["method"].required = True
        self.fields["method"].error_messages["required"] = _("请选择跟踪方式。")
        self.fields["content"].error_messages["required"] = _("请填写跟踪内容。")

    def clean_at(self) -> Any:
        value = self.cleaned_data["at"]
        if value > timezone.now() + settings.CRM_FOLLOWUP_CLOCK_SKEW:
            raise forms.ValidationError(_("跟踪时间不能晚于现在。"))
        if value < timezone.now() - timedelta(days=366):
            raise forms.ValidationError(_("跟踪时间不能早于一年前。"))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        at, next_on = data.get("at"), data.get("next_on")
        if at and next_on and next_on < timezone.localtime(at).date():
            self.add_error("next_on", _("下次跟踪日期不能早于本次跟踪。"))
        return data


class CloseForm(forms.Form):
    reason = forms.ModelChoiceField(
        label=_("关闭原因"),
        queryset=DictItem.objects.filter(dict_type__code="close_reason", is_active=True),
        error_messages={"required": _("请选择关闭原因。"), "invalid_choice": _("请选择关闭原因。")},
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=200)


class HandOverForm(forms.Form):
    reason = forms.CharField(label=_("移交原因"), required=False, max_length=200)


class AssignForm(forms.Form):
    to = forms.ModelChoiceField(
        label=_("分配给"),
        queryset=User.objects.none(),
        error_messages={"required": _("请选择分配给谁。"), "invalid_choice": _("只能分配给您所领导的在职同事。")},
    )
    reason = forms.CharField(label=_("说明"), required=False, max_length=200)

    def __init__(self, *args: Any, people: QuerySet[User] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if people is not None:
            to = self.fields["to"]
            assert isinstance(to, forms.ModelChoiceField)
            to.queryset = people


# ---------------------------------------------------------------------------------------------------
# Search areas
# ---------------------------------------------------------------------------------------------------


_dict_choice = all_items_choice


class PersonSearch:
    """The conditions on a person every list of people's records shares (the customer lists, and 消费记录 and
    积分流水 by their member): 姓名/拼音 ``q`` and ``mobile`` as typed or pasted, and 负责人 ``owner`` among the
    people in the viewer's scope."""

    fields: dict[str, Any]
    cleaned_data: dict[str, Any]

    def limit_to(self, user: Any) -> None:
        """负责人 offers the people whose records ``user`` may see: a rep himself, a manager his group."""
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = User.objects.for_user(user).filter(is_active=True).order_by("department__path", "id")

    def clean_q(self) -> str:
        return search_name(self.cleaned_data.get("q") or "")

    def clean_mobile(self) -> str:
        return search_mobile(self.cleaned_data.get("mobile") or "")


class PartyFilterForm(PersonSearch, ListFilterForm):
    """Name (any 2+ characters, or pinyin: zw / zhangwei), mobile (any 4+ digits), owner, source, dates."""

    q = forms.CharField(label=_("姓名/拼音"), required=False, max_length=30)
    mobile = forms.CharField(label=_("手机号"), required=False, max_length=20)
    owner = forms.ModelChoiceField(
        label=pgettext_lazy("record owner", "负责人"),
        queryset=User.objects.filter(is_active=True).order_by("department__path", "id"),  # limit_to narrows it
        required=False,
    )
    source = _dict_choice("customer_source", _("客户来源"))
    created_from = forms.DateField(label=_("登记日期从"), required=False, widget=DateInput())
    created_to = forms.DateField(label=_("至"), required=False, widget=DateInput())

    lookups = {"owner": "owner", "source": "source"}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("结束日期不能早于开始日期。"))
        return data

    def filter_q(self, qs: QuerySet, value: str) -> QuerySet:
        return qs.filter(name_q(value, qs.model))

    def filter_mobile(self, qs: QuerySet, value: str) -> QuerySet:
        return qs.filter(digits_q(value, qs.model))

    def filter_created_from(self, qs: QuerySet, value: date) -> QuerySet:
        return qs.filter(created_at__gte=local_midnight(value))

    def filter_created_to(self, qs: QuerySet, value: date) -> QuerySet:
        return qs.filter(created_at__lt=local_midnight(value + timedelta(days=1)))


# A lead in registration is listed by its application's state (草稿, 审批中, 已退回): the choice finding them says so.
REGISTERING_LEADS = _("登记中(草稿、审批中或已退回)")


class LeadFilterForm(PartyFilterForm):
    intent = _dict_choice("intent_level", _("意向等级"))
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[
            ("", _("全部")),
            *(
                (v, REGISTERING_LEADS if v == LeadStatus.DRAFT else label)
                for v, label in LeadStatus.choices
                if v != LeadStatus.MERGED
            ),
        ],
    )

    lookups = {**PartyFilterForm.lookups, "intent": "intent", "status": "status"}


HIDDEN_LEADS = (LeadStatus.DRAFT, LeadStatus.MERGED)  # not listed in 〖潜在客户跟踪〗


class LeadTrackingFilterForm(LeadFilterForm):
    """〖潜在客户跟踪〗 lists no lead still being registered: no 登记中 to choose."""

    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), *((v, label) for v, label in LeadStatus.choices if v not in HIDDEN_LEADS)],
    )


class ReviewFilterForm(TaskFilterForm):
    """〖潜在客户审核〗 / 〖客户资料审核〗 list one form type each: no type to choose."""

    form_type = None  # type: ignore[assignment]
    lookups = {"title": TaskFilterForm.lookups["title"]}


LISTED = (CustomerStatus.FORMAL, CustomerStatus.HANDED_OVER)  # the statuses 〖客户跟踪〗 lists


class CustomerFilterForm(PartyFilterForm):
    card_no = forms.CharField(label=_("会员卡号"), required=False, max_length=30)
    level = _dict_choice("customer_level", _("客户级别"))
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部")), *((s.value, s.label) for s in LISTED)],
    )

    lookups = {**PartyFilterForm.lookups, "level": "level", "status": "status"}

    def filter_card_no(self, qs: QuerySet, value: str) -> QuerySet:
        return qs.filter(card_q(value))
