"""Django admin for the core models: the audit log (read-only) and the dictionaries.

The business pages are the product; the admin is a back door for the technical administrator and the
baseline the list benchmark compares against (``make bench``, docs/performance.md).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditLog, DictItem, DictType


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("at", "actor_name", "action", "content_type", "object_repr", "ip")
    list_filter = ("action",)
    search_fields = ("object_repr",)
    list_select_related = ("content_type",)
    list_per_page = 20  # the app's page size: the benchmark compares pages of the same number of rows
    readonly_fields = (
        "at",
        "actor",
        "actor_name",
        "action",
        "content_type",
        "object_id",
        "object_repr",
        "changes",
        "ip",
    )

    # The audit log is written by the application only: no adding, changing or deleting here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DictItemInline(admin.TabularInline):
    model = DictItem
    extra = 0
    fields = ("code", "label", "sort", "is_active")


@admin.register(DictType)
class DictTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "description")
    search_fields = ("code", "name")
    inlines = [DictItemInline]
