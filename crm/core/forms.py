from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core import signing
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


class KeepsOthersEdits(forms.ModelForm):
    """An edit that does not undo what was saved meanwhile: from another tab, on the phone, by someone else.

    The page carries, signed, the values it showed (``_seen``). On saving, a field the person left as shown but that
    has changed since keeps its new value (``kept``: said with the 已保存); a field both changed, differently, is
    refused with a sentence naming the value it now has, and the page shows the record as it now is beside what
    was typed, so that a second 【保存】 is a choice made knowingly. A new record, or a page without the token,
    saves as before."""

    _SALT = "crm.core.forms.seen"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept: list[str] = []  # labels of the fields that kept a value saved meanwhile
        names = {f.name for f in self._meta.model._meta.get_fields()}
        self._tracked = [n for n in self.fields if n in names]
        # the values stored now, and their fingerprints (what the page's token holds)
        stored = self._tracked if self.instance.pk else []
        self._saved_values = {n: self._model_field(n).value_from_object(self.instance) for n in stored}
        self._saved = {n: self._fingerprint(n, v) for n, v in self._saved_values.items()}
        self.fields["_seen"] = forms.CharField(required=False, widget=forms.HiddenInput)
        if self.instance.pk and not self.is_bound:
            self.fields["_seen"].initial = signing.dumps({"pk": self.instance.pk, "v": self._saved}, salt=self._SALT)

    def _model_field(self, name: str) -> Any:
        return self._meta.model._meta.get_field(name)

    def _fingerprint(self, name: str, value: Any) -> str:
        field = self._model_field(name)
        return _pks(value) if field.many_to_many else field.value_to_string(self.instance)

    def _seen(self) -> dict[str, str] | None:
        try:
            token = signing.loads(self.data.get(self.add_prefix("_seen"), ""), salt=self._SALT)
        except signing.BadSignature:
            return None
        return token["v"] if token.get("pk") == self.instance.pk else None

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # ModelForm's: builds the instance from the cleaned data
        seen = self._seen() if self.instance.pk and self.is_bound else None
        if not seen:
            return
        conflicts, kept = [], []
        for name in self._tracked:
            field = self._model_field(name)
            if name not in seen or name not in self.cleaned_data or self.fields[name].disabled:
                continue
            saved = self._saved[name]
            if saved == seen[name]:
                continue  # not changed since the page was shown
            mine = _pks(self.cleaned_data[name]) if field.many_to_many else field.value_to_string(self.instance)
            if mine == seen[name]:  # left as shown: what was saved meanwhile stays
                if field.many_to_many:
                    self.cleaned_data[name] = self._saved_values[name]
                else:
                    setattr(self.instance, field.attname, self._saved_values[name])
                kept.append(name)
            elif mine != saved:
                conflicts.append(name)
        if conflicts:
            self._refuse(conflicts, kept)
        else:
            self.kept = [str(self.fields[name].label) for name in kept]

    def _refuse(self, conflicts: list[str], kept: list[str]) -> None:
        """Each field both changed: said. The page shows what the person typed, and, in the fields changed meanwhile
        that the person left as shown, what they hold now; the token is renewed, so that saving again keeps what
        was typed."""
        data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict
        for name in kept:
            key = self.add_prefix(name)
            value = self.fields[name].prepare_value(self._saved_values[name])
            if isinstance(self.fields[name].widget, forms.CheckboxInput):
                if value:
                    data[key] = "on"
                else:
                    data.pop(key, None)  # an unticked box posts nothing
            elif self._model_field(name).many_to_many:
                data.setlist(key, [str(pk) for pk in value or []])
            else:
                data[key] = "" if value is None else str(value)
        data[self.add_prefix("_seen")] = signing.dumps({"pk": self.instance.pk, "v": self._saved}, salt=self._SALT)
        self.data = data
        for name in conflicts:
            self.add_error(
                name,
                _(
                    "您打开这一页之后,这一项已被修改为「%(now)s」(可能是别人,或您在另一个标签页中)。您没有改动的各项已"
                    "换成现在的内容;要以您填的为准,请再点【保存】。"
                )
                % {"now": _shown(self.instance, self._model_field(name), self._saved_values[name]) or _("空")},
            )


def saved(message: str, form: Any) -> str:
    """``message`` (已保存。), and which fields kept what was saved meanwhile (``KeepsOthersEdits.kept``)."""
    kept = getattr(form, "kept", [])
    if not kept:
        return message
    return message + _("「%(fields)s」在您打开这一页之后已被修改过,保留了修改后的内容。") % {
        "fields": "」「".join(kept)
    }


def _pks(objects: Iterable[Any]) -> str:
    return ",".join(sorted(str(getattr(o, "pk", o)) for o in objects or ()))


def _shown(instance: Any, field: Any, value: Any) -> str:
    """A stored value as the page shows it: a choice's label, a related record's name, a date."""
    if field.many_to_many:
        return "、".join(str(o) for o in value)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value or ""))
    if field.is_relation:
        related = field.related_model._default_manager.filter(pk=value).first() if value is not None else None
        return str(related or "")
    return "" if value in (None, "") else str(value)


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
