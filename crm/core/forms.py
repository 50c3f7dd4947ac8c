from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.forms.models import ModelChoiceIterator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .lists import ListFilterForm
from .models import ApiClient, AuditAction, DictItem, DictType

BIGINT = 2**63


def local_midnight(day: date) -> datetime:
    """The start of ``day`` in the club's time zone, as an aware instant."""
    return timezone.make_aware(datetime.combine(day, time.min))


class OneQueryChoiceIterator(ModelChoiceIterator):
    """A select's choices read with one query. Django's iterator streams them (``QuerySet.iterator()``), which on
    PostgreSQL opens a server-side cursor: DECLARE, FETCH and CLOSE, three round trips (and, outside a transaction,
    a WITH HOLD cursor the server materialises) for a few dozen dictionary items or people. Installed for every
    ``ModelChoiceField`` by ``CoreConfig.ready``."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():  # a fresh copy each time, as Django's own iterator reads afresh
            yield self.choice(obj)


class ModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Django's field, refusing a key too large for the database (``pk__in`` has no overflow guard:
    SQLite raises OverflowError and PostgreSQL a DataError, a 500 instead of a message)."""

    def _check_values(self, value: Any) -> Any:
        for pk in value or ():
            text = str(pk).strip()
            if text.lstrip("-").isdigit() and not -BIGINT <= int(text) < BIGINT:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)  # type: ignore[misc]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class AuditFilterForm(ListFilterForm):
    actor = forms.ModelChoiceField(label=_("操作人"), queryset=get_user_model().objects.none(), required=False)
    action = forms.ChoiceField(label=_("操作"), choices=[("", _("全部")), *AuditAction.choices], required=False)
    date_from = forms.DateField(label=_("开始日期"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("结束日期"), required=False, widget=DateInput())
    object_repr = forms.CharField(label=_("对象"), required=False, max_length=50)

    lookups = {"actor": "actor", "action": "action"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["actor"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = get_user_model().objects.order_by("full_name")

    # A range on the stored instant, not ``at__date``: the index on (action, at) serves a range, while a date
    # cast in the club's time zone is computed row by row (on SQLite by a Python function).
    def filter_date_from(self, qs: QuerySet, value: date) -> QuerySet:
        return qs.filter(at__gte=local_midnight(value))

    def filter_date_to(self, qs: QuerySet, value: date) -> QuerySet:
        return qs.filter(at__lt=local_midnight(value + timedelta(days=1)))

    def filter_object_repr(self, qs: QuerySet, value: str) -> QuerySet:
        # Chinese has no case: ``contains`` rather than ``icontains`` (see DESIGN.md).
        return qs.filter(object_repr__contains=value)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("结束日期不能早于开始日期。"))
        return data


class DictFilterForm(ListFilterForm):
    q = forms.CharField(label=_("名称或编码"), required=False, max_length=50)

    def filter_q(self, qs: QuerySet, value: str) -> QuerySet:
        from django.db.models import Q

        return qs.filter(Q(name__contains=value) | Q(code__contains=value))


class DictTypeForm(forms.ModelForm):
    class Meta:
        model = DictType
        fields = ["code", "name", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:  # the pages find a dictionary by its code: renamed, they would lose it
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("编码在创建后不能修改。")


def _item_label(item: DictItem) -> str:
    return str(item.label) if item.is_active else str(_("%(label)s(停用)") % {"label": item.label})


def offer_active_items(form: forms.ModelForm) -> None:
    """Dictionary choices of a record's form: the active items, and the ones the record already holds even if
    switched off since (marked 停用), so that saving the record never drops them silently."""
    instance = form.instance
    for name, field in form.fields.items():
        if not isinstance(field, forms.ModelChoiceField) or field.queryset is None:
            continue
        if field.queryset.model is not DictItem:
            continue
        held: list[Any] = []
        if instance.pk is not None and isinstance(field, forms.ModelMultipleChoiceField):
            held = list(getattr(instance, name).values_list("pk", flat=True))
        elif instance.pk is not None:
            held = [getattr(instance, f"{name}_id", None)]  # the key on the row: no query
        field.queryset = field.queryset.filter(Q(is_active=True) | Q(pk__in=[pk for pk in held if pk]))
        field.label_from_instance = _item_label  # type: ignore[method-assign,assignment]


def all_items_choice(code: str, label: Any) -> forms.ModelChoiceField:
    """A search condition on a dictionary column: every item of the dictionary, switched-off ones (marked 停用)
    included, since old records still hold them."""
    field = forms.ModelChoiceField(
        label=label,
        required=False,
        queryset=DictItem.objects.filter(dict_type__code=code).order_by("-is_active", "sort", "id"),
    )
    field.label_from_instance = _item_label  # type: ignore[method-assign,assignment]
    return field


class RowsFormSet(forms.BaseInlineFormSet):
    """Rows of a record edited on its page (dictionary items, a customer's properties, …): a value that must be
    unique among the rows is named by its label, not its field name; a row deleted meanwhile (in another window)
    is named as such, instead of an error on a hidden field."""

    def add_fields(self, form: Any, index: Any) -> None:
        super().add_fields(form, index)
        row = form.fields.get(form._meta.model._meta.pk.name)
        if row is not None:
            row.error_messages["invalid_choice"] = _("有一行已被删除(可能是在另一个窗口),请刷新页面后再保存。")

    def get_unique_error_message(self, unique_check: Any) -> str:
        fields = self.form.base_fields
        own = [name for name in unique_check if name != self.fk.name]  # the record the rows belong to: the same
        labels = [str(fields[name].label) if name in fields else name for name in own]
        return str(_("「%(field)s」有重复,每一行须各不相同。") % {"field": "、".join(labels)})


DictItemFormSet = forms.inlineformset_factory(
    DictType,
    DictItem,
    formset=RowsFormSet,
    fields=["code", "label", "sort", "is_active"],
    extra=3,
    can_delete=True,
    max_num=200,
    absolute_max=200,
    validate_max=True,
)


class ApiClientForm(forms.ModelForm):
    """A client's name, the operations it may use (from the API's registry), enabled, note."""

    operations = forms.MultipleChoiceField(
        label=_("允许的操作"), choices=(), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiClient
        fields = ["name", "operations", "is_active", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from .api import OPERATIONS

        super().__init__(*args, **kwargs)
        field = self.fields["operations"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(code, label) for code, label in OPERATIONS.items()]

    def clean_name(self) -> str:
        name = " ".join((self.cleaned_data.get("name") or "").split())
        if not name:
            raise forms.ValidationError(_("请填写接口客户端的名称。"))
        if ApiClient.objects.filter(name=name).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("已有名为「%(name)s」的接口客户端,请换一个名称。") % {"name": name})
        return name


class ApiClientFilterForm(ListFilterForm):
    name = forms.CharField(label=_("名称"), required=False, max_length=50)
    lookups = {"name": "name__contains"}
