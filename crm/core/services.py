"""Writes of the core app: dictionaries."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from .audit import audited
from .models import DictType

DICT_FIELDS = ("code", "name", "description")


@transaction.atomic
def dict_type_save(*, actor: Any, form: Any, items: Any, request: Any = None) -> DictType:
    """Save a dictionary and its items (a bound ModelForm and inline formset, both valid)."""
    before_items = _item_labels(form.instance) if form.instance.pk else []
    with audited(actor=actor, obj=form.instance, fields=DICT_FIELDS, request=request) as changes:
        dict_type = form.save()
        items.instance = dict_type
        items.save()
        after_items = _item_labels(dict_type)
        if after_items != before_items:
            changes["items"] = [before_items, after_items]
    return dict_type


def _item_labels(dict_type: DictType) -> list[str]:
    disabled = _("(停用)")
    return [f"{i.code}:{i.label}{'' if i.is_active else disabled}" for i in dict_type.items.order_by("sort", "id")]
