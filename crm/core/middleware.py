from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation
from django.utils.translation import get_supported_language_variant
from django.utils.translation import gettext as _


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Chinese unless the person chose otherwise (the language switch sets a cookie). A browser's own
    language is not consulted: a club's staff on an English Windows still expect the Chinese interface."""

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or settings.LANGUAGE_CODE
        try:
            language = get_supported_language_variant(chosen)
        except LookupError:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class ApiErrorsMiddleware:
    """Under ``/api/``, an answer Django or django-ninja wrote as a page (an unknown path, a method the
    endpoint does not take, a server error) becomes JSON with a stable code and a Chinese message, as every
    other API error is (docs/api.md)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code not in (404, 405, 500):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        from .api import error_response

        if response.status_code == 404:
            return error_response(
                404,
                "not_found",
                _("没有这个接口:%(path)s。请对照接口文档(/api/v1/docs)。") % {"path": request.path[:200]},
            )
        if response.status_code == 405:
            allowed = response.get("Allow", "")
            answer = error_response(
                405,
                "method_not_allowed",
                _("这个接口不接受 %(method)s 请求(可用:%(allowed)s)。")
                % {"method": request.method, "allowed": allowed},
            )
            answer["Allow"] = allowed
            return answer
        return error_response(500, "internal_error", _("系统出错,请稍后重试;如果问题持续,请联系系统管理员。"))
