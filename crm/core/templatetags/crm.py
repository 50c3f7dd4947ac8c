from __future__ import annotations

from typing import Any

from django import forms, template
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def widget(bound: forms.BoundField, extra: str = "") -> SafeString:
    """Render a field's widget with Bootstrap's classes, marked invalid when it has errors."""
    w = bound.field.widget
    if isinstance(w, forms.CheckboxInput | forms.RadioSelect | forms.CheckboxSelectMultiple):
        css = "form-check-input"
    elif isinstance(w, forms.Select):
        css = "form-select form-select-sm"
    else:
        css = "form-control form-control-sm"
    if bound.errors:
        css += " is-invalid"
    attrs: dict[str, Any] = {"class": f"{css} {extra}".strip()}
    if bound.errors:
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{bound.auto_id}_error"
    if type(w) is forms.Select:
        return _select(bound, attrs)
    return bound.as_widget(attrs=attrs)


def _select(bound: forms.BoundField, attrs: dict[str, Any]) -> SafeString:
    """A plain <select> built directly: Django renders each option through a template of its own, which made
    the selects of a search area the costliest part of a list page."""
    widget = bound.field.widget
    attrs = widget.build_attrs(widget.attrs, attrs)
    if bound.field.disabled:
        attrs["disabled"] = True
    if bound.auto_id and "id" not in attrs:
        attrs["id"] = bound.auto_id
    if widget.use_required_attribute(bound.initial) and bound.field.required and bound.form.use_required_attribute:
        attrs["required"] = True
    value = bound.value()
    values = widget.format_value(value)
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (opt["value"], mark_safe(" selected") if opt["selected"] else "", opt["label"])
            for _group, group_options, _index in widget.optgroups(bound.html_name, values, attrs)
            for opt in group_options
        ),
    )
    return format_html('<select name="{}"{}>{}</select>', bound.html_name, flatatt(attrs), options)


@register.filter
def is_checkbox(bound: forms.BoundField) -> bool:
    return isinstance(bound.field.widget, forms.CheckboxInput)


@register.filter
def is_multi_checkbox(bound: forms.BoundField) -> bool:
    return isinstance(bound.field.widget, forms.CheckboxSelectMultiple)


@register.simple_tag
def query_with(query: Any, **kwargs: Any) -> str:
    """The list's query string with some parameters replaced (pagination, sorting)."""
    q = query.copy()
    for k, v in kwargs.items():
        if v in (None, ""):
            q.pop(k, None)
        else:
            q[k] = v
    return q.urlencode()


@register.filter(name="mask")
def mask_filter(value: Any, kind: str) -> str:
    """``{{ c.mobile|mask:"mobile" }}``: personal data as a role without the right to see it reads it."""
    from crm.core.masking import mask

    return mask(kind, value)
