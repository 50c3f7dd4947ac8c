"""Writes of the core app: dictionaries."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from .audit import audit, diff, snapshot, snapshot_stored
from .models import AuditAction, DictType

DICT_FIELDS = ("code", "name", "description")


@transaction.atomic
def dict_type_save(*, actor: Any, form: Any, items: Any, request: Any = None) -> DictType:
    """Save a dictionary and its items (a bound ModelForm and inline formset, both valid)."""
    before = snapshot_stored(form.instance, DICT_FIELDS)
    before_items = _item_labels(form.instance) if form.instance.pk else []
    created = form.instance.pk is None
    dict_type = form.save()
    items.instance = dict_type
    items.save()
    changes: dict[str, Any] = diff(before, snapshot(dict_type, DICT_FIELDS))
    after_items = _item_labels(dict_type)
    if after_items != before_items:
        changes["items"] = [before_items, after_items]
    if created or changes:
        audit(
            actor=actor,
            action=AuditAction.CREATE if created else AuditAction.UPDATE,
            obj=dict_type,
            changes=changes,
            request=request,
        )
    return dict_type


def _item_labels(dict_type: DictType) -> list[str]:
    disabled = _("(停用)")
    return [f"{i.code}:{i.label}{'' if i.is_active else disabled}" for i in dict_type.items.order_by("sort", "id")]
