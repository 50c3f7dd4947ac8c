from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

ACTIVITY_KEY = "crm_last_activity"
LOGIN_AT_KEY = "crm_login_at"
# Write the activity stamp at most this often, so that reading pages does not save the session each time.
ACTIVITY_GRANULARITY = 60


class SessionTimeoutMiddleware:
    """Ends a session idle for longer than CRM_SESSION_IDLE_SECONDS, and any older than SESSION_COOKIE_AGE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(ACTIVITY_KEY, now)
            started = request.session.get(LOGIN_AT_KEY, now)
            if now - last > settings.CRM_SESSION_IDLE_SECONDS or now - started > settings.SESSION_COOKIE_AGE:
                logout(request)
                messages.info(request, _("您已长时间未操作,为保护数据安全已自动退出,请重新登录。"))
                return _to_login(request)
            background = request.headers.get("X-CRM-Background") == "1"  # a badge polling is not the person acting
            if not background and (now - last >= ACTIVITY_GRANULARITY or ACTIVITY_KEY not in request.session):
                request.session[ACTIVITY_KEY] = now
            request.session.setdefault(LOGIN_AT_KEY, now)
        return self.get_response(request)


class InitialPasswordMiddleware:
    """A person holding the initial password may only reach the change-password page (and log out)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and getattr(user, "initial_password_set_at", None) is not None:
            allowed = {reverse("accounts:password_change"), reverse("accounts:logout"), reverse("set_language")}
            if request.path not in allowed and not request.path.startswith(settings.STATIC_URL):
                return _to(request, reverse("accounts:password_change"))
        return self.get_response(request)


def _to(request: HttpRequest, url: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        response = HttpResponse()
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _to_login(request: HttpRequest) -> HttpResponse:
    return _to(request, f"{reverse('accounts:login')}?next={request.get_full_path()}")
