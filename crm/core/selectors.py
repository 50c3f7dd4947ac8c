"""Reads of the core app."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import DictItem


def dict_items(code: str, *, active_only: bool = True) -> QuerySet[DictItem]:
    """The items of the dictionary ``code`` in display order (for forms and filters of later modules)."""
    qs = DictItem.objects.filter(dict_type__code=code)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs.order_by("sort", "id")


def dict_choices(code: str) -> list[tuple[str, str]]:
    return [(i.code, i.label) for i in dict_items(code)]
