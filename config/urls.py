"""URLs. The app lives under ``settings.URL_PREFIX`` ("CRM/" by default, as in the club's manual)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView

from crm.core.api import autodiscover


def build(prefix: str) -> list[URLPattern | URLResolver]:
    app: list[URLPattern | URLResolver] = [
        path("", include("crm.accounts.urls")),
        path("", include("crm.core.urls")),
        path("", include("crm.workflow.urls")),
        path("", include("crm.customers.urls")),
        path("", include("crm.loyalty.urls")),
        path("django-admin/", admin.site.urls),
        path("i18n/", include("django.conf.urls.i18n")),
    ]
    api = path("api/v1/", autodiscover().urls)  # the integration API stays at /api/v1/ whatever the prefix
    if not prefix:
        return [api, *app]
    return [
        api,
        path(prefix, include(app)),
        path("", RedirectView.as_view(url=f"/{prefix}", permanent=False)),
    ]


urlpatterns = build(settings.URL_PREFIX)

handler403 = "crm.core.errors.permission_denied"
handler404 = "crm.core.errors.page_not_found"
handler500 = "crm.core.errors.server_error"
