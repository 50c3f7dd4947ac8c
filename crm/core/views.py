from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services
from .audit import readable_changes
from .forms import ApiClientFilterForm, ApiClientForm, AuditFilterForm, DictFilterForm, DictItemFormSet, DictTypeForm
from .home import home_panels
from .lists import Column
from .menu import menu
from .models import ApiClient, AuditLog, DictType
from .views_base import Button, CrmView, ObjectListView, is_htmx


class HomeView(CrmView):
    title = gettext_lazy("首页")
    tab_key = "home"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        shortcuts = [n for top in menu.visible(user) for n in _pages(top) if n.key != "home"]
        panels = home_panels.render(request)
        return self.render_page("core/home.html", {"shortcuts": shortcuts, "me": user, "panels": panels})


def _pages(node: Any) -> list[Any]:
    """The pages under a menu node for 常用功能: the node's own page, else the first pages down each group
    (客户管理 › 潜在客户管理 › 潜在客户跟踪; not the weekly lists under a page)."""
    if node.url:
        return [node]
    return [page for child in node.children or [] for page in _pages(child)]


class AuditListView(ObjectListView):
    title = gettext_lazy("审计日志")
    tab_key = "audit"
    permission = "core.view_auditlog"
    export_permission = "core.view_auditlog"
    model = AuditLog
    filter_form_class = AuditFilterForm
    default_sort = "-at"
    select_related = ("content_type",)
    detail_url_name = "core:audit_detail"
    columns = [
        Column("at", gettext_lazy("时间"), sort="at"),
        Column("actor_name", gettext_lazy("操作人")),
        Column("action", gettext_lazy("操作"), accessor="get_action_display"),
        Column("content_type", gettext_lazy("对象类型"), accessor="content_type.name"),
        Column("object_repr", gettext_lazy("对象")),
        Column("ip", gettext_lazy("IP 地址")),
    ]

    def row_title(self, obj: Any) -> str:
        return _("审计 #%(id)s") % {"id": obj.pk}


class AuditDetailView(CrmView):
    permission = "core.view_auditlog"
    title = gettext_lazy("审计详情")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        entry = get_object_or_404(AuditLog.objects.for_user(request.user).select_related("content_type"), pk=pk)
        self.tab_key = f"audit-{pk}"
        return self.render_page("core/audit_detail.html", {"entry": entry, "changes": readable_changes(entry)})

    def get_tab_key(self) -> str:
        return self.tab_key


class DictListView(ObjectListView):
    title = gettext_lazy("数据字典")
    tab_key = "dictionaries"
    permission = "core.view_dicttype"
    model = DictType
    filter_form_class = DictFilterForm
    default_sort = "code"
    detail_url_name = "core:dict_edit"
    toolbar = [
        Button(
            gettext_lazy("新增"),
            "core:dict_create",
            "core.add_dicttype",
            "bi-plus-lg",
            gettext_lazy("新增字典"),
        )
    ]
    columns = [
        Column("code", gettext_lazy("编码"), sort="code"),
        Column("name", gettext_lazy("名称"), sort="name"),
        Column("description", gettext_lazy("说明")),
        Column("items", gettext_lazy("字典项"), accessor=lambda d: "、".join(i.label for i in d.items.all())),
    ]

    def get_queryset(self, action: str = "view") -> Any:
        return super().get_queryset(action).prefetch_related("items")


class DictEditView(CrmView):
    permission = "core.view_dicttype"
    title = gettext_lazy("数据字典")

    def get_tab_key(self) -> str:
        pk = self.kwargs.get("pk")
        return f"dict-{pk}" if pk else "dict-new"

    def get_object(self) -> DictType:
        pk = self.kwargs.get("pk")
        return get_object_or_404(DictType, pk=pk) if pk else DictType()

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object()
        return self.show(DictTypeForm(instance=obj), DictItemFormSet(instance=obj, prefix="items"))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object()
        needed = "core.change_dicttype" if obj.pk else "core.add_dicttype"
        if not request.user.has_perm(needed):
            return self.refuse(_("您没有修改数据字典的权限。"))
        form = DictTypeForm(request.POST, instance=obj)
        items = DictItemFormSet(request.POST, instance=obj, prefix="items")
        if not (form.is_valid() and items.is_valid()):
            return self.show(form, items, status=422)
        try:
            saved = services.dict_type_save(actor=request.user, form=form, items=items, request=request)
        except services.DictItemInUse as exc:
            messages.error(request, str(exc))
            return self.show(form, items, status=409)
        messages.success(request, _("数据字典「%(name)s」已保存。") % {"name": saved.name})
        if is_htmx(request):
            return self.show(DictTypeForm(instance=saved), DictItemFormSet(instance=saved, prefix="items"))
        return redirect(reverse("core:dict_edit", args=[saved.pk]))

    def refuse(self, message: str) -> HttpResponse:
        messages.error(self.request, message)
        obj = self.get_object()
        return self.show(DictTypeForm(instance=obj), DictItemFormSet(instance=obj, prefix="items"), status=403)

    def show(self, form: DictTypeForm, items: Any, status: int = 200) -> HttpResponse:
        obj = form.instance
        context = {
            "form": form,
            "items": items,
            "obj": obj,
            # once saved, the page is the dictionary's own: a second 【保存】 changes it, never makes another
            "post_url": reverse("core:dict_edit", args=[obj.pk]) if obj.pk else self.request.path,
            "can_edit": self.request.user.has_perm("core.change_dicttype" if obj.pk else "core.add_dicttype"),
        }
        if obj.pk:
            self.title = obj.name
        return self.render_page("core/dict_form.html", context, status=status)


class ApiClientListView(ObjectListView):
    title = gettext_lazy("接口客户端")
    tab_key = "api-clients"
    permission = "core.view_apiclient"
    model = ApiClient
    filter_form_class = ApiClientFilterForm
    default_sort = "name"
    detail_url_name = "core:api_client_edit"
    toolbar = [
        Button(
            gettext_lazy("新增"),
            "core:api_client_create",
            "core.add_apiclient",
            "bi-plus-lg",
            gettext_lazy("新增接口客户端"),
        )
    ]
    columns = [
        Column("name", gettext_lazy("名称"), sort="name", link=True),
        Column("is_active", gettext_lazy("启用")),
        Column("operations", gettext_lazy("允许的操作"), accessor=lambda c: _operation_labels(c.operations)),
        Column("key_prefix", gettext_lazy("密钥前缀"), accessor=lambda c: f"jsh_{c.key_prefix}_…"),
        Column("key_created_at", gettext_lazy("密钥生成时间")),
        Column("note", gettext_lazy("说明")),
    ]


def _operation_labels(codes: list[str]) -> str:
    from .api import OPERATIONS

    return "、".join(str(OPERATIONS.get(code, code)) for code in codes or [])


class ApiClientEditView(CrmView):
    """A client's page: name, operations, enabled, note; 【生成新密钥】. A new key is shown on this page once."""

    permission = "core.view_apiclient"
    title = gettext_lazy("接口客户端")

    def get_tab_key(self) -> str:
        pk = self.kwargs.get("pk")
        return f"api-client-{pk}" if pk else "api-client-new"

    def get_object(self) -> ApiClient:
        pk = self.kwargs.get("pk")
        return get_object_or_404(ApiClient, pk=pk) if pk else ApiClient(is_active=True)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        return self.show(ApiClientForm(instance=self.get_object()))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object()
        needed = "core.change_apiclient" if obj.pk else "core.add_apiclient"
        if not request.user.has_perm(needed):
            messages.error(request, _("您没有管理接口客户端的权限。"))
            return self.show(ApiClientForm(instance=obj), status=403)
        if obj.pk and request.POST.get("action") == "new_key":
            key = services.api_client_new_key(actor=request.user, client=obj, request=request)
            messages.warning(request, _("已生成新密钥,旧密钥立即失效。"))
            return self.show(ApiClientForm(instance=obj), key=key)
        form = ApiClientForm(request.POST, instance=obj)
        if not form.is_valid():
            return self.show(form, status=422)
        if obj.pk:
            saved = services.api_client_save(actor=request.user, form=form, request=request)
            messages.success(request, _("接口客户端「%(name)s」已保存。") % {"name": saved.name})
            self.warn_if_idle(saved)
            return self.show(ApiClientForm(instance=saved))
        try:
            saved, key = services.api_client_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                operations=form.cleaned_data["operations"],
                note=form.cleaned_data.get("note") or "",
                request=request,
            )
        except services.ApiClientRefused as exc:
            form.add_error(None, str(exc))
            return self.show(form, status=422)
        messages.success(request, _("接口客户端「%(name)s」已创建。") % {"name": saved.name})
        self.warn_if_idle(saved)
        self.kwargs["pk"] = saved.pk
        return self.show(ApiClientForm(instance=saved), key=key)

    def warn_if_idle(self, client: ApiClient) -> None:
        """Saved without any operation, a client is refused every call: say so while it can still be mended."""
        if not client.operations:
            messages.warning(
                self.request,
                _("「%(name)s」还没有勾选任何允许的操作,它调用接口时都会被拒绝(403 forbidden)。")
                % {"name": client.name},
            )

    def show(self, form: ApiClientForm, status: int = 200, key: str = "") -> HttpResponse:
        obj = form.instance
        if obj.pk:
            self.title = obj.name
        context = {
            "form": form,
            "obj": obj,
            "key": key,
            "can_edit": self.request.user.has_perm("core.change_apiclient" if obj.pk else "core.add_apiclient"),
        }
        return self.render_page("core/api_client_form.html", context, status=status)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    from django.shortcuts import render

    return render(request, "403_csrf.html", {"reason": reason}, status=403)
