"""The search areas of 会员管理 › 消费记录 and 积分流水.

A consumption and a ledger entry are found by their customer as the customer lists find customers (name or
pinyin, any 4+ digits of the mobile, the card number: ``crm.core.textsearch``), as a sub-query on the
customers, so that the customers' own search structures (the pinyin and card-number indexes, PostgreSQL's
trigram indexes, SQLite's token table) do the work; then by their own columns.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.accounts.models import User
from crm.core.forms import DateInput, local_midnight
from crm.core.lists import ListFilterForm
from crm.core.textsearch import digits_q, name_q
from crm.customers.forms import PersonSearch
from crm.customers.models import Customer
from crm.customers.selectors import card_q

from .models import Category, ConsumptionSource, EntryKind

MAX_AMOUNT = Decimal("100000000")
MAX_POINTS = 10**12


def _choices(choices: Any) -> list[tuple[str, Any]]:
    return [("", _("全部")), *choices]


class MemberFilterForm(PersonSearch, ListFilterForm):
    """What both lists share: the member (name or pinyin, mobile digits, card number), the member's owner and
    a date range. ``customer_path`` is how a row reaches its customer; ``date_field`` the row's time."""

    customer_path = "customer"
    date_field = "created_at"

    q = forms.CharField(label=_("客户姓名/拼音"), required=False, max_length=30)
    card_no = forms.CharField(label=_("会员卡号"), required=False, max_length=30)
    mobile = forms.CharField(label=_("手机号"), required=False, max_length=20)
    owner = forms.ModelChoiceField(
        label=pgettext_lazy("record owner", "负责人"),
        queryset=User.objects.filter(is_active=True).order_by("department__path", "id"),  # limit_to narrows it
        required=False,
    )
    date_from = forms.DateField(label=_("日期从"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("至"), required=False, widget=DateInput())

    def clean_card_no(self) -> str:
        return (self.cleaned_data.get("card_no") or "").strip().upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("结束日期不能早于开始日期。"))
        return data

    def _customers(self, qs: QuerySet, q: Q) -> QuerySet:
        return qs.filter(**{f"{self.customer_path}__in": Customer.objects.filter(q).values("pk")})

    def filter_q(self, qs: QuerySet, value: str) -> QuerySet:
        return self._customers(qs, name_q(value, Customer))

    def filter_mobile(self, qs: QuerySet, value: str) -> QuerySet:
        return self._customers(qs, digits_q(value, Customer))

    def filter_card_no(self, qs: QuerySet, value: str) -> QuerySet:
        return self._customers(qs, card_q(value))

    def filter_owner(self, qs: QuerySet, value: Any) -> QuerySet:
        return qs.filter(**{f"{self.customer_path}__owner": value})

    # A range on the stored instant (the time index serves it), not a date cast row by row.
    def filter_date_from(self, qs: QuerySet, value: date) -> QuerySet:
        return qs.filter(**{f"{self.date_field}__gte": local_midnight(value)})

    def filter_date_to(self, qs: QuerySet, value: date) -> QuerySet:
        return qs.filter(**{f"{self.date_field}__lt": local_midnight(value + timedelta(days=1))})


def _range_error(form: forms.Form, data: dict[str, Any], low: str, high: str) -> None:
    a, b = data.get(low), data.get(high)
    if a is not None and b is not None and a > b:
        form.add_error(high, _("上限不能小于下限。"))


class ConsumptionFilterForm(MemberFilterForm):
    date_field = "occurred_at"

    kind = forms.ChoiceField(
        label=_("消费/退款"), required=False, choices=_choices([("sale", _("消费")), ("refund", _("退款"))])
    )
    category = forms.ChoiceField(label=_("消费类别"), required=False, choices=_choices(Category.choices))
    source = forms.ChoiceField(label=_("来源"), required=False, choices=_choices(ConsumptionSource.choices))
    amount_min = forms.DecimalField(
        label=_("金额从"), required=False, max_digits=12, decimal_places=2, min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT
    )
    amount_max = forms.DecimalField(
        label=_("金额至"), required=False, max_digits=12, decimal_places=2, min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT
    )
    order_no = forms.CharField(label=_("订单号"), required=False, max_length=64)

    lookups = {"category": "category", "source": "source", "amount_min": "amount__gte", "amount_max": "amount__lte"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date_from"].label = _("消费日期从")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _range_error(self, data, "amount_min", "amount_max")
        return data

    def filter_kind(self, qs: QuerySet, value: str) -> QuerySet:
        return qs.filter(refund_of__isnull=value == "sale")

    def filter_order_no(self, qs: QuerySet, value: str) -> QuerySet:
        return qs.filter(order_no__startswith=value.strip())


class EntrySource:
    """Where a ledger entry came from, as the 来源 filter offers it."""

    CONSUMPTION = "consumption"
    APPLICATION = "application"
    POS = "pos"
    OTHER = "other"

    choices = [
        (CONSUMPTION, _("消费/退款")),
        (APPLICATION, _("审批申请单")),
        (POS, _("收银系统")),
        (OTHER, _("其他")),
    ]


def entry_source_q(value: str) -> Q:
    if value == EntrySource.CONSUMPTION:
        return Q(consumption__isnull=False)
    if value == EntrySource.APPLICATION:
        return Q(source_ref__startswith="application:")
    if value == EntrySource.POS:
        return Q(source_ref__startswith="pos")
    return Q(consumption__isnull=True) & ~Q(source_ref__startswith="application:") & ~Q(source_ref__startswith="pos")


class PointsEntryFilterForm(MemberFilterForm):
    customer_path = "account__customer"
    date_field = "created_at"

    kind = forms.ChoiceField(label=_("类型"), required=False, choices=_choices(EntryKind.choices))
    source = forms.ChoiceField(label=_("来源"), required=False, choices=_choices(EntrySource.choices))
    points_min = forms.IntegerField(label=_("积分从"), required=False, min_value=-MAX_POINTS, max_value=MAX_POINTS)
    points_max = forms.IntegerField(label=_("积分至"), required=False, min_value=-MAX_POINTS, max_value=MAX_POINTS)

    lookups = {"kind": "kind", "points_min": "points__gte", "points_max": "points__lte"}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        _range_error(self, data, "points_min", "points_max")
        return data

    def filter_source(self, qs: QuerySet, value: str) -> QuerySet:
        return qs.filter(entry_source_q(value))
