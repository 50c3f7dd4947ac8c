"""Error pages in Chinese, fitted to the shell: an htmx request gets the message as a tab's content."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def _page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    template = "error.html#content" if getattr(request, "htmx", False) else "error.html"
    return render(request, template, {"status": status, "title": title, "message": message}, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = str(exception) if exception and str(exception) else _("您没有执行此操作的权限。")
    return _page(request, 403, _("没有权限"), detail)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, 404, _("找不到该记录"), _("该记录不存在,或不在您的数据权限范围内。"))


def server_error(request: HttpRequest) -> HttpResponse:
    # No template and no database: whatever failed must not fail this page too.
    title, message = _("系统出错了"), _("请稍后重试;如果问题持续,请联系系统管理员。")
    return HttpResponse(
        f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{message}</p>", status=500
    )
