"""The generic views every page is built from: permission check, htmx partials, the generic list."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote, urlencode, urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import BaseForm, BaseFormSet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from .audit import audit
from .export import write_xlsx
from .lists import Column, KeysetPaginator, ListFilterForm, capped_count
from .masking import can_see_sensitive
from .models import AuditAction


@dataclass(frozen=True)
class Button:
    """A toolbar button; shown only to users holding ``permission``."""

    label: Any
    url_name: str
    permission: str | None = None
    icon: str = ""
    tab_title: Any = None
    args: tuple[Any, ...] = ()

    def allowed(self, user: Any) -> bool:
        return self.permission is None or user.has_perm(self.permission)

    @property
    def href(self) -> str:
        return reverse(self.url_name, args=self.args)

    @property
    def tab_key(self) -> str:
        return self.href


@dataclass(frozen=True)
class BulkAction:
    """A button under a list acting on the rows ticked on its page (e.g. 【批量通过】 in 〖待办业务〗); the view's
    ``bulk`` does it, row by row, through the same service a record's own page uses."""

    name: str
    label: Any
    style: str = "btn-primary"
    confirm: Any = None  # a question asked before it is done (not when nothing is ticked, or ``needs`` is empty)
    needs: str = ""  # a field of the bulk form this action cannot do without (asked for by the server)


@dataclass
class BulkOutcome:
    """What a bulk action did: how many rows, and each row refused with its title and sentence."""

    done: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class QuickFilter:
    """A one-click filter above a list (e.g. a form type with its count); ``params`` are added to the query."""

    label: Any
    params: dict[str, str]
    count: int | None = None


def namespace_form_ids(context: dict[str, Any], tab_key: str) -> None:
    """Give every form of a page ids of its own tab: all tabs share one document, and a label must point at
    the field of its own form (``id_department`` in a list's search area and in an open editor would clash)."""
    ns = re.sub(r"[^A-Za-z0-9]+", "-", tab_key).strip("-") or "page"
    for value in context.values():
        if isinstance(value, BaseFormSet):
            forms_ = [*value.forms, value.management_form]
        elif isinstance(value, BaseForm):
            forms_ = [value]
        else:
            continue
        for form in forms_:
            form.auto_id = f"{ns}-%s"


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx asked for this (a partial answer), and not a boosted whole-page navigation."""
    details = getattr(request, "htmx", None)
    return bool(details) and not details.boosted  # type: ignore[union-attr]


class CrmView(LoginRequiredMixin, View):
    """Login, one permission, and rendering as a whole page or as the partial htmx asks for."""

    permission: ClassVar[str | None] = None
    title: Any = ""
    tab_key: str = ""
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.permission and not request.user.has_perm(self.permission):
            if self.title:
                raise PermissionDenied(_("您没有使用「%(title)s」的权限。") % {"title": self.title})
            raise PermissionDenied(_("您没有查看这一页的权限。"))
        return super().dispatch(request, *args, **kwargs)

    def handle_no_permission(self) -> HttpResponse:  # type: ignore[override]  # an HX-Redirect is no 302
        """Not logged in (any more: the password was reset, the account switched off, the session ended): to the
        login page, saying why. A page of the tabbed workspace asks by htmx, so the whole window goes there
        (``HX-Redirect``), and back to the page it was on afterwards; a plain 302 would load the login form,
        unseen, into a tab."""
        if not self.request.user.is_authenticated and is_htmx(self.request):
            messages.info(self.request, _("您的登录已失效,请重新登录。"))
            back = urlsplit(self.request.headers.get("HX-Current-URL", "")).path or reverse("core:home")
            response = HttpResponse()
            response["HX-Redirect"] = f"{reverse('accounts:login')}?{urlencode({'next': back})}"
            return response
        return super().handle_no_permission()

    def get_title(self) -> Any:
        return self.title

    def get_tab_key(self) -> str:
        return self.tab_key or self.request.path

    def render_page(self, template: str, context: dict[str, Any], partial: str = "content", **kw: Any) -> HttpResponse:
        context.setdefault("page_title", self.get_title())
        context.setdefault("tab_key", self.get_tab_key())
        namespace_form_ids(context, self.get_tab_key())
        if is_htmx(self.request):
            return render(self.request, f"{template}#{partial}", context, **kw)
        return render(self.request, template, context, **kw)


class ObjectListView(CrmView):
    """A list page from configuration: queryset through the data scope, search form, sortable columns,
    keyset pagination, capped count, masking, double-click to the detail, export to Excel."""

    model: ClassVar[Any]
    columns: ClassVar[list[Column]]
    filter_form_class: ClassVar[type[ListFilterForm]] = ListFilterForm
    default_sort: ClassVar[str] = "-pk"
    page_size: ClassVar[int] = 20
    detail_url_name: ClassVar[str | None] = None
    toolbar: ClassVar[list[Button]] = []
    export_permission: ClassVar[str | None] = None
    select_related: ClassVar[tuple[str, ...]] = ()
    template_name: ClassVar[str] = "core/list.html"
    keys_first: ClassVar[bool] = False  # a scope reached through a join: see KeysetPaginator
    bulk_actions: ClassVar[list[BulkAction]] = []
    bulk_form_class: ClassVar[type[forms.Form] | None] = None  # what a bulk action carries (e.g. 审批意见)
    kept: tuple[Any, set[int]] = (None, set())  # a refused bulk action's data and ticks, shown again

    # -- configuration hooks ----------------------------------------------------------------------
    def get_queryset(self, action: str = "view") -> QuerySet:
        manager = self.model.objects
        # Business records go through the data scope; reference data (roles, dictionaries) is global
        # and guarded by the page's permission alone.
        qs = manager.for_user(self.request.user, action) if hasattr(manager, "for_user") else manager.all()
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        return qs

    def detail_url(self, obj: Any) -> str | None:
        return reverse(self.detail_url_name, args=[obj.pk]) if self.detail_url_name else None

    def prepare_page(self, rows: list[Any]) -> None:
        """Read, once for the page's rows, what ``detail_url`` or the columns need beyond the rows themselves."""

    def row_title(self, obj: Any) -> str:
        return str(obj)

    def get_toolbar(self) -> list[Button]:
        return list(self.toolbar)

    def quick_filters(self) -> list[QuickFilter]:
        return []

    def get_bulk_actions(self) -> list[BulkAction]:
        return list(self.bulk_actions)

    def shown_bulk_actions(self, rows: list[Any]) -> list[BulkAction]:
        """The bulk actions offered under this page of ``rows`` (the rows the buttons can act on)."""
        return self.get_bulk_actions() if rows else []

    def get_bulk_form(self, data: Any = None, rows: list[Any] | None = None) -> forms.Form | None:
        """What a bulk action carries: to check ``data`` when one is done (``rows`` None), else for the page of
        ``rows`` (bound to ``data`` when shown again after a refusal)."""
        return self.bulk_form_class(data) if self.bulk_form_class else None

    def bulk(self, action: str, rows: list[Any], form: forms.Form | None) -> BulkOutcome:
        """Do bulk ``action`` on ``rows`` (the ticked rows still in this list for this user)."""
        raise NotImplementedError

    def bulk_done_message(self, action: BulkAction, done: int) -> str:
        return _("已%(action)s %(n)d 条。") % {"action": action.label, "n": done}

    # -- machinery --------------------------------------------------------------------------------
    def sort_options(self) -> dict[str, str]:
        return {c.name: c.sort for c in self.columns if c.sort}

    def current_sort(self) -> tuple[str, str, bool]:
        """(column name or "", field, descending)."""
        requested = self.request.GET.get("sort", "")
        name = requested.lstrip("-")
        options = self.sort_options()
        if name in options:
            return name, options[name], requested.startswith("-")
        default = self.default_sort
        field = default.lstrip("-")
        col = next((c for c, f in options.items() if f == field), "")
        return col, field, default.startswith("-")

    def can_export(self) -> bool:
        return self.export_permission is not None and self.request.user.has_perm(self.export_permission)

    def filtered(self, form: ListFilterForm, action: str = "view") -> QuerySet:
        return form.filter(self.get_queryset(action))

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = self.filter_form_class(request.GET or None)
        form.limit_to(request.user)
        if request.GET.get("export") == "xlsx":
            return self.export(form)
        col, field, desc = self.current_sort()
        found = self.filtered(form)
        paginator = KeysetPaginator(found, field, desc, self.page_size, keys_first=self.keys_first)
        count, more = capped_count(found)
        page = paginator.page(
            after=request.GET.get("after") or None,
            before=request.GET.get("before") or None,
            last=request.GET.get("last") == "1",
            total=None if more else count,
        )
        self.prepare_page(page.rows)
        unmasked = can_see_sensitive(request.user)
        links = [c.href_permission is None or request.user.has_perm(c.href_permission) for c in self.columns]
        rows = [
            {
                "obj": obj,
                "cells": [c.cell(obj, unmasked=unmasked, links=ok) for c, ok in zip(self.columns, links, strict=True)],
                "url": self.detail_url(obj),
                "title": self.row_title(obj),
            }
            for obj in page.rows
        ]
        query = request.GET.copy()
        for k in ("after", "before", "last", "export"):
            query.pop(k, None)
        uid = request.GET.get("_uid", "")
        if not (uid.isalnum() and len(uid) <= 16):
            uid = uuid.uuid4().hex[:8]
        query["_uid"] = uid
        context = {
            "view": self,
            "uid": uid,
            "form": form,
            "columns": self.columns,
            "rows": rows,
            "page": page,
            "count": count,
            "count_more": more,
            "sort_col": col,
            "sort_desc": desc,
            "query": query,
            "base_query": _without(query, "sort"),
            "list_url": request.path,
            "toolbar": [b for b in self.get_toolbar() if b.allowed(request.user)],
            # evaluated only where rendered (the whole list), not for a refresh of the results alone
            "quick_filters": lambda: [_quick(f, query) for f in self.quick_filters()],
            "can_export": self.can_export(),
            "bulk_actions": self.shown_bulk_actions(page.rows),
            "bulk_form": self.get_bulk_form(self.kept[0], rows=page.rows) if page.rows else None,
            "ticked": self.kept[1],
            # said with the results too: a search refreshes only them, not the form with its messages
            "condition_errors": condition_errors(form),
        }
        target = request.headers.get("HX-Target", "")
        partial = "results" if target.startswith("results-") else "content"
        return self.render_page(self.template_name, context, partial=partial)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """A bulk action on the rows ticked; answered with the list again (same conditions), saying what was done
        and, row by row, what was refused and why. Rows no longer in the list (handled by someone else since, or
        never the user's) are named where ``describe_gone`` can, never acted on. Refused before anything is done
        (nothing ticked, a field missing), the ticks and what was typed stay as they were."""
        actions = {a.name: a for a in self.get_bulk_actions()}
        action = actions.get(request.POST.get("_bulk", ""))
        if action is None:
            messages.error(request, _("这个列表没有这项操作。"))
            return self.get(request, *args, **kwargs)
        ticked = list(dict.fromkeys(int(v) for v in request.POST.getlist("pk") if v.isdecimal() and len(v) < 19))
        form = self.get_bulk_form(request.POST)
        refusal = ""
        if not ticked:
            refusal = _("请先勾选要%(action)s的行。") % {"action": action.label}
        elif len(ticked) > self.page_size:
            refusal = _("一次最多处理 %(n)d 条。") % {"n": self.page_size}
        elif form is not None and not form.is_valid():
            wrong = [f"{form[name].label}:{' '.join(map(str, errors))}" for name, errors in form.errors.items()]
            refusal = _("没有处理:%(wrong)s") % {"wrong": ";".join(wrong)}
        if refusal:
            messages.error(request, refusal)
            self.kept = (request.POST, set(ticked))
            return self.get(request, *args, **kwargs)
        rows = list(self.get_queryset("change").filter(pk__in=ticked))
        outcome = self.bulk(action.name, sorted(rows, key=lambda r: ticked.index(r.pk)), form)
        if outcome.done:
            messages.success(request, self.bulk_done_message(action, outcome.done))
        found = {r.pk for r in rows}
        gone = [pk for pk in ticked if pk not in found]
        named = self.describe_gone(gone) if gone else []
        refused = [f"「{title}」:{reason.rstrip('。')}" for title, reason in [*outcome.refused, *named]]
        if len(gone) > len(named):
            refused.append(_("%(n)d 条已不在列表中(可能已由别人处理)") % {"n": len(gone) - len(named)})
        if refused:
            head = _("以下没有%(action)s:") % {"action": action.label}
            messages.warning(request, head + ";".join(refused) + "。")
        response = self.get(request, *args, **kwargs)
        response["HX-Trigger"] = "crm:changed"
        return response

    def describe_gone(self, pks: list[int]) -> list[tuple[str, str]]:
        """The ticked rows no longer in this list that the user may still hear of: (title, why). Others are
        only counted."""
        return []

    def export(self, form: ListFilterForm) -> HttpResponse:
        """The list under the current conditions as an .xlsx file. A refusal is one plain sentence (the page
        fetches the file and shows the sentence in the tab): no permission, or a condition in error (the list
        leaves such a condition out and says so beside it; an export of more than was asked for would not)."""
        if not self.can_export():
            return _sentence(403, _("您没有导出「%(title)s」的权限。") % {"title": self.get_title()})
        wrong = condition_errors(form)
        if wrong:
            return _sentence(422, _("查询条件有误,没有导出。%(wrong)s") % {"wrong": ";".join(wrong)})
        _col, field, desc = self.current_sort()
        qs = self.filtered(form, "export").order_by(f"-{field}" if desc else field, "-pk" if desc else "pk")
        rows = qs[: settings.CRM_EXPORT_MAX_ROWS].iterator(chunk_size=2000)
        unmasked = can_see_sensitive(self.request.user)
        data, n = write_xlsx(str(self.get_title()), self.columns, rows, unmasked=unmasked)
        audit(
            actor=self.request.user,
            action=AuditAction.EXPORT,
            object_repr=str(self.get_title()),
            changes={"filter": _conditions(form, self.request.GET), "rows": n, "masked": not unmasked},
            request=self.request,
        )
        stamp = timezone.localtime().strftime("%Y%m%d%H%M")
        filename = f"{self.get_title()}_{stamp}.xlsx"
        response = HttpResponse(data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
        return response


def condition_errors(form: ListFilterForm) -> list[str]:
    """The search conditions in error, each as 「label:message」 (a condition of the whole form, as its message)."""
    if not form.is_bound or form.is_valid():
        return []
    return [
        f"{form[name].label}:{' '.join(map(str, errors))}" if name in form.fields else " ".join(map(str, errors))
        for name, errors in form.errors.items()
    ]


def _sentence(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _quick(f: QuickFilter, query: QueryDict) -> dict[str, Any]:
    active = all(query.get(k, "") == v for k, v in f.params.items())
    return {"label": f.label, "count": f.count, "params": json.dumps(f.params), "active": active}


def _without(query: QueryDict, *keys: str) -> QueryDict:
    q = query.copy()
    for k in keys:
        q.pop(k, None)
    return q


def _conditions(form: ListFilterForm, query: QueryDict) -> dict[str, str]:
    """The conditions of an export as the audit shows them: each by its label, a choice by what was chosen."""
    out = {}
    for name, value in query.items():
        if name in ("export", "_uid") or not value:
            continue
        if name not in form.fields:
            out[name] = str(value)
            continue
        field = form.fields[name]
        shown = str(value)
        if isinstance(field, forms.ModelChoiceField):
            chosen = getattr(form, "cleaned_data", {}).get(name)
            shown = str(chosen) if chosen is not None else shown
        elif isinstance(field, forms.ChoiceField):
            labels: dict[str, Any] = {str(k): v for k, v in field.choices}  # type: ignore[union-attr,misc]
            shown = str(labels.get(str(value), value))
        out[str(field.label)] = shown
    return out
