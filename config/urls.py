"""URLs. The app lives under ``settings.URL_PREFIX`` ("CRM/" by default, as in the club's manual)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView


def build(prefix: str) -> list[URLPattern | URLResolver]:
    app: list[URLPattern | URLResolver] = [
        path("", include("crm.accounts.urls")),
        path("", include("crm.core.urls")),
        path("", include("crm.workflow.urls")),
        path("", include("crm.customers.urls")),
        path("django-admin/", admin.site.urls),
        path("i18n/", include("django.conf.urls.i18n")),
    ]
    if not prefix:
        return app
    return [
        path(prefix, include(app)),
        path("", RedirectView.as_view(url=f"/{prefix}", permanent=False)),
    ]


urlpatterns = build(settings.URL_PREFIX)

handler403 = "crm.core.errors.permission_denied"
handler404 = "crm.core.errors.page_not_found"
handler500 = "crm.core.errors.server_error"
