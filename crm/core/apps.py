from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


def analyze_sqlite(using: str = "default", **kwargs: Any) -> None:
    """SQLite plans its queries from the statistics ANALYZE gathers, and nothing gathers them by itself:
    without them a manager's customer list took 638 ms instead of 19 (docs/performance.md). Refreshed after
    every migration (and after big imports)."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


class CoreConfig(AppConfig):
    name = "crm.core"
    label = "core"
    verbose_name = _("基础")

    def ready(self) -> None:
        from django import forms

        from .forms import OneQueryChoiceIterator

        forms.ModelChoiceField.iterator = OneQueryChoiceIterator  # type: ignore[misc]  # one query, not a cursor
        autodiscover_modules("menus")
        autodiscover_modules("imports")  # each app registers what it imports (crm.core.imports.register)
        # Once per migrate run: the signal is sent for every app; this app's is enough.
        post_migrate.connect(analyze_sqlite, sender=self, dispatch_uid="crm.core.analyze_sqlite")
