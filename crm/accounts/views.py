from __future__ import annotations

import time
from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any

from axes.helpers import get_cool_off
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from crm.core.audit import audit, form_fields
from crm.core.lists import Column
from crm.core.masking import mask_form
from crm.core.models import AuditAction
from crm.core.views_base import Button, CrmView, ObjectListView, is_htmx

from . import selectors, services
from .forms import (
    DepartmentForm,
    HandOverWorkForm,
    LoginForm,
    PasswordChangeForm,
    PositionForm,
    RoleForm,
    UserFilterForm,
    UserForm,
)
from .middleware import LOGIN_AT_KEY
from .models import Department, Position, Role, User

# ---------------------------------------------------------------------------------------------------
# Login, logout, password
# ---------------------------------------------------------------------------------------------------


def _ambiguity_note(name: str) -> str | None:
    namesakes = selectors.same_name_users(name)
    if len(namesakes) < 2:
        return None
    logins = "、".join(f"「{u.username}」" for u in namesakes)
    return _("系统中有 %(n)d 位名叫「%(name)s」的同事,请用管理员分配的登录名登录:%(logins)s。") % {
        "n": len(namesakes),
        "name": name,
        "logins": logins,
    }


class LoginView(View):
    template = "accounts/login.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect("core:home")
        return render(request, self.template, {"form": LoginForm(), "next": request.GET.get("next", "")})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = LoginForm(request.POST)
        next_url = request.POST.get("next", "")
        if not form.is_valid():
            return render(request, self.template, {"form": form, "next": next_url}, status=400)
        # Login names are stored NFKC-normalised (a full-width space or bracket becomes half-width), and what
        # the person types is read the same way.
        name = User.normalize_username(form.cleaned_data["username"].strip())
        password = form.cleaned_data["password"]
        user = authenticate(request, username=name, password=password)
        if getattr(request, "axes_locked_out", False):
            # AxesMiddleware replaces this response with ``lockout_response``.
            return HttpResponse(status=429)
        if user is None:
            return self.refuse(request, form, name, next_url)
        assert isinstance(user, User)
        if user.initial_password_expired:
            audit(
                actor=None,
                action=AuditAction.LOGIN_FAILED,
                obj=user,
                request=request,
                changes={"reason": "initial_password_expired"},
            )
            form.add_error(None, _("您的初始密码已过期,请联系系统管理员重置密码。"))
            return render(request, self.template, {"form": form, "next": next_url}, status=403)
        login(request, user)
        request.session[LOGIN_AT_KEY] = int(time.time())
        audit(actor=user, action=AuditAction.LOGIN, obj=user, request=request)
        if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
            return redirect(next_url)
        return redirect("core:home")

    def refuse(self, request: HttpRequest, form: LoginForm, name: str, next_url: str) -> HttpResponse:
        inactive = User.objects.filter(username=name, is_active=False).first()
        audit(actor=None, action=AuditAction.LOGIN_FAILED, object_repr=name, request=request, obj=inactive)
        if inactive is not None and inactive.check_password(form.cleaned_data["password"]):
            form.add_error(None, _("您的账号已停用,请联系系统管理员。"))
        else:
            form.add_error(None, _("姓名或密码不正确。连续输错 %(n)d 次将暂时锁定。") % {"n": _failure_limit()})
            note = _ambiguity_note(form.cleaned_data["username"].strip())
            if note:
                form.add_error("username", note)
        return render(request, self.template, {"form": form, "next": next_url}, status=401)


def _failure_limit() -> int:
    from django.conf import settings

    return int(settings.AXES_FAILURE_LIMIT)


def lockout_response(request: HttpRequest, original_response: Any, credentials: Any) -> HttpResponse:
    """Axes' lockout answer: the login page, in Chinese, saying how long to wait."""
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else 15
    form = LoginForm(request.POST or None)
    form.is_valid()
    form.add_error(
        None,
        _("该账号在此电脑上连续登录失败次数过多,已锁定 %(m)d 分钟。请稍后再试,或联系系统管理员解锁。") % {"m": minutes},
    )
    next_url = request.POST.get("next", "")  # kept for the try after the wait
    return render(request, "accounts/login.html", {"form": form, "locked": True, "next": next_url}, status=429)


class LogoutView(View):
    def post(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            audit(actor=request.user, action=AuditAction.LOGOUT, obj=request.user, request=request)
        logout(request)
        return redirect("accounts:login")


class PasswordChangeView(CrmView):
    title = gettext_lazy("密码修改")
    tab_key = "password"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(PasswordChangeForm(request.user))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PasswordChangeForm(request.user, request.POST)
        if not form.is_valid():
            return self.show(form, status=422)
        assert isinstance(request.user, User)
        services.password_change(user=request.user, new_password=form.cleaned_data["new_password1"], request=request)
        messages.success(request, _("密码已修改。"))
        if is_htmx(request):
            return self.show(PasswordChangeForm(request.user))
        return redirect("core:home")

    def show(self, form: PasswordChangeForm, status: int = 200) -> HttpResponse:
        forced = request_has_initial(self.request)
        template = "accounts/password_change_forced.html" if forced else "accounts/password_change.html"
        return self.render_page(template, {"form": form, "forced": forced}, status=status)


def request_has_initial(request: HttpRequest) -> bool:
    return getattr(request.user, "initial_password_set_at", None) is not None


# ---------------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------------


class UserListView(ObjectListView):
    title = gettext_lazy("用户管理")
    tab_key = "users"
    permission = "accounts.view_user"
    export_permission = "accounts.view_user"
    model = User
    filter_form_class = UserFilterForm
    default_sort = "department__path"
    select_related = ("department", "position")
    detail_url_name = "accounts:user_edit"
    toolbar = [
        Button(
            gettext_lazy("新增"),
            "accounts:user_create",
            "accounts.add_user",
            "bi-person-plus",
            gettext_lazy("新增用户"),
        )
    ]
    columns = [
        Column("full_name", gettext_lazy("姓名"), sort="full_name", link=True),
        Column("username", gettext_lazy("登录名"), sort="username"),
        Column("department", gettext_lazy("部门"), accessor="department.name", sort="department__path"),
        Column("position", gettext_lazy("岗位"), accessor="position.name"),
        Column("mobile", gettext_lazy("手机号"), mask="mobile"),
        Column("roles", gettext_lazy("角色"), accessor=lambda u: "、".join(r.name for r in u.roles.all())),
        Column("is_active", gettext_lazy("在用"), sort="is_active"),
        Column("login_locked", gettext_lazy("登录锁定"), accessor=lambda u: _("已锁定") if u.login_locked else ""),
        Column("last_login", gettext_lazy("最近登录")),
    ]

    @cached_property
    def locked(self) -> set[str]:
        """Who is locked out now: read once for the page (or the export), whatever its rows."""
        return set(selectors.login_locks())

    def get_queryset(self, action: str = "view") -> Any:
        return selectors.with_login_locked(super().get_queryset(action).prefetch_related("roles"), self.locked)

    def row_title(self, obj: Any) -> str:
        return obj.username


class UserEditView(CrmView):
    """Create (no pk) or edit a person; also resets the password and lifts a login lock."""

    permission = "accounts.view_user"
    title = gettext_lazy("用户")

    def get_tab_key(self) -> str:
        pk = self.kwargs.get("pk")
        return f"user-{pk}" if pk else "user-new"

    def get_object(self, action: str = "view") -> User:
        pk = self.kwargs.get("pk")
        if pk is None:
            return User()
        return get_object_or_404(User.objects.for_user(self.request.user, action), pk=pk)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object()
        if obj.pk is None and not request.user.has_perm("accounts.add_user"):
            return self.denied(_("您没有新增用户的权限。"))
        return self.show(UserForm(instance=obj))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object("change")
        if obj.pk is None:
            if not request.user.has_perm("accounts.add_user"):
                return self.denied(_("您没有新增用户的权限。"))
        elif not request.user.has_perm("accounts.change_user"):
            return self.denied(_("您没有修改用户的权限。"))
        action = request.POST.get("_action", "save")
        was_active = obj.is_active  # the bound form below changes ``obj``
        if obj.pk and action == "reset_password":
            return self.reset_password(obj)
        if obj.pk and action == "unlock":
            return self.unlock(obj)
        if obj.pk and action == "hand_over":
            return self.hand_over(obj)
        form = UserForm(request.POST, instance=obj)
        if not form.is_valid():
            return self.show(form, status=422)
        data = {name: form.cleaned_data[name] for name in form_fields(form)}  # not the confirmation
        try:
            if obj.pk is None:
                user, password = services.user_create(actor=request.user, request=request, **data)
                messages.success(
                    request,
                    _("用户「%(name)s」已创建,登录名「%(login)s」,初始密码 %(pw)s(首次登录须修改)。")
                    % {"name": user.full_name, "login": user.username, "pw": password},
                )
            else:
                user = services.user_update(actor=request.user, user=obj, data=data, request=request)
                messages.success(request, _("用户「%(name)s」已保存。") % {"name": user.full_name})
                if was_active and not user.is_active:
                    for note in selectors.unfinished_work(user):
                        messages.warning(request, note)
        except ValidationError as exc:
            _attach_errors(form, exc)
            return self.show(form, status=422)
        return self.after_save(user)

    def after_save(self, user: User) -> HttpResponse:
        if is_htmx(self.request):
            self.kwargs["pk"] = user.pk
            response = self.show(UserForm(instance=user))
            response["HX-Trigger"] = "crm:changed"
            return response
        return redirect(reverse("accounts:user_edit", args=[user.pk]))

    def reset_password(self, user: User) -> HttpResponse:
        if not self.request.user.has_perm("accounts.reset_password"):
            return self.denied(_("您没有重置密码的权限。"))
        password = services.user_reset_password(actor=self.request.user, user=user, request=self.request)
        messages.success(
            self.request,
            _("「%(name)s」的密码已重置为初始密码 %(pw)s,登录后须立即修改。")
            % {"name": user.full_name, "pw": password},
        )
        return self.after_save(user)

    def unlock(self, user: User) -> HttpResponse:
        if not self.request.user.has_perm("accounts.unlock_user"):
            return self.denied(_("您没有解除登录锁定的权限。"))
        services.user_unlock(actor=self.request.user, user=user, request=self.request)
        messages.success(self.request, _("「%(name)s」的登录锁定已解除。") % {"name": user.full_name})
        return self.after_save(user)

    def hand_over(self, user: User) -> HttpResponse:
        if not self.request.user.has_perm("accounts.change_user"):
            return self.denied(_("您没有修改用户的权限。"))
        form = HandOverWorkForm(self.request.POST, user=user)
        if form.is_valid():
            to_user = form.cleaned_data["hand_over_to"]
            for moved, text in services.user_hand_over_work(
                actor=self.request.user, user=user, to_user=to_user, request=self.request
            ):
                (messages.success if moved else messages.warning)(self.request, text)
            return self.after_save(user)
        return self.show(UserForm(instance=user), status=422, hand_over_form=form)

    def denied(self, message: str) -> HttpResponse:
        messages.error(self.request, message)
        obj = self.get_object()
        return self.show(UserForm(instance=obj), status=403)

    def show(self, form: UserForm, status: int = 200, hand_over_form: HandOverWorkForm | None = None) -> HttpResponse:
        obj = form.instance
        perms = self.request.user
        if obj.pk:
            self.title = obj.username
        # by the stored login name (a form sent back with errors may hold another): axes counted under it
        lock = selectors.login_lock(form.initial.get("username") or obj.username) if obj.pk else None
        context = {
            "form": form,
            "obj": obj,
            "post_url": reverse("accounts:user_edit", args=[obj.pk]) if obj.pk else self.request.path,
            "can_save": perms.has_perm("accounts.change_user" if obj.pk else "accounts.add_user"),
            "can_reset": bool(obj.pk) and perms.has_perm("accounts.reset_password"),
            "login_lock": lock,
            "can_unlock": lock is not None and perms.has_perm("accounts.unlock_user"),
        }
        # 【转交待办】: what the person holds that a colleague could take over (approvals waiting for them, …)
        work = services.work_to_hand_over(obj) if obj.pk and perms.has_perm("accounts.change_user") else 0
        if work:
            context["work"] = work
            context["hand_over_form"] = hand_over_form or HandOverWorkForm(user=obj)
        if not context["can_save"]:  # read only: the mobile masked as the list shows it
            for field in form.fields.values():
                field.disabled = True
            mask_form(form, perms)
        return self.render_page("accounts/user_form.html", context, status=status)


def _attach_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# ---------------------------------------------------------------------------------------------------
# Departments, positions, roles
# ---------------------------------------------------------------------------------------------------


class DepartmentTreeView(CrmView):
    title = gettext_lazy("部门管理")
    tab_key = "departments"
    permission = "accounts.view_department"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page("accounts/department_tree.html", tree_context(request))


def tree_context(request: HttpRequest) -> dict[str, Any]:
    counts = selectors.member_counts()
    rows = [{"dept": d, "members": counts.get(d.pk, 0)} for d in selectors.department_tree()]
    return {"rows": rows, "can_add": request.user.has_perm("accounts.add_department")}


class SimpleEditView(CrmView, ABC):
    """Create or edit one reference object through its service; the shared shape of the small editors."""

    model: Any
    form_class: Any
    template: str
    add_perm: str
    change_perm: str
    tab_prefix: str
    edit_url_name: str

    def get_tab_key(self) -> str:
        pk = self.kwargs.get("pk")
        return f"{self.tab_prefix}-{pk}" if pk else f"{self.tab_prefix}-new"

    def get_object(self) -> Any:
        pk = self.kwargs.get("pk")
        return get_object_or_404(self.model, pk=pk) if pk else self.model()

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        return self.show(self.form_class(instance=self.get_object()))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object()
        if not request.user.has_perm(self.change_perm if obj.pk else self.add_perm):
            messages.error(request, _("您没有保存此项的权限。"))
            return self.show(self.form_class(instance=obj), status=403)
        form = self.form_class(request.POST, instance=obj)
        if not form.is_valid():
            return self.show(form, status=422)
        try:
            saved = self.save(obj, form)
        except ValidationError as exc:
            _attach_errors(form, exc)
            return self.show(form, status=422)
        messages.success(request, _("「%(name)s」已保存。") % {"name": saved})
        if is_htmx(request):
            self.kwargs["pk"] = saved.pk
            response = self.show(self.form_class(instance=saved))
            response["HX-Trigger"] = "crm:changed"
            return response
        return redirect(reverse(self.edit_url_name, args=[saved.pk]))

    @abstractmethod
    def save(self, obj: Any, form: Any) -> Any:
        """Call the object's service with the valid form's data; returns the saved object."""

    def extra_context(self, form: Any) -> dict[str, Any]:
        return {}

    def show(self, form: Any, status: int = 200) -> HttpResponse:
        obj = form.instance
        if obj.pk:
            self.title = str(obj)
        context = {
            "form": form,
            "obj": obj,
            "post_url": reverse(self.edit_url_name, args=[obj.pk]) if obj.pk else self.request.path,
            "can_save": self.request.user.has_perm(self.change_perm if obj.pk else self.add_perm),
            **self.extra_context(form),
        }
        return self.render_page(self.template, context, status=status)


class DepartmentEditView(SimpleEditView):
    title = gettext_lazy("部门")
    permission = "accounts.view_department"
    model = Department
    form_class = DepartmentForm
    template = "accounts/simple_form.html"
    add_perm = "accounts.add_department"
    change_perm = "accounts.change_department"
    tab_prefix = "department"
    edit_url_name = "accounts:department_edit"

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        if pk is not None and request.POST.get("_action") == "delete":
            return self.delete(self.get_object())
        return super().post(request, pk)

    def delete(self, department: Department) -> HttpResponse:
        if not self.request.user.has_perm("accounts.delete_department"):
            messages.error(self.request, _("您没有删除部门的权限。"))
            return self.show(self.form_class(instance=department), status=403)
        try:
            services.department_delete(actor=self.request.user, department=department, request=self.request)
        except ValidationError as exc:
            messages.error(self.request, " ".join(exc.messages))
            return self.show(self.form_class(instance=department), status=422)
        messages.success(self.request, _("部门「%(name)s」已删除。") % {"name": department.name})
        if not is_htmx(self.request):
            return redirect("accounts:department_tree")
        response = self.render_page("accounts/department_tree.html", tree_context(self.request))
        response["HX-Trigger"] = "crm:changed"
        return response

    def extra_context(self, form: Any) -> dict[str, Any]:
        return {"can_delete": form.instance.pk and self.request.user.has_perm("accounts.delete_department")}

    def save(self, obj: Department, form: DepartmentForm) -> Department:
        return services.department_save(
            actor=self.request.user, department=obj, data=form.cleaned_data, request=self.request
        )


class PositionListView(ObjectListView):
    title = gettext_lazy("岗位管理")
    tab_key = "positions"
    permission = "accounts.view_position"
    model = Position
    default_sort = "sort"
    detail_url_name = "accounts:position_edit"
    toolbar = [
        Button(
            gettext_lazy("新增"),
            "accounts:position_create",
            "accounts.add_position",
            "bi-plus-lg",
            gettext_lazy("新增岗位"),
        )
    ]
    columns = [
        Column("name", gettext_lazy("岗位名称"), sort="name", link=True),
        Column("sort", gettext_lazy("排序"), sort="sort"),
    ]


class PositionEditView(SimpleEditView):
    title = gettext_lazy("岗位")
    permission = "accounts.view_position"
    model = Position
    form_class = PositionForm
    template = "accounts/simple_form.html"
    add_perm = "accounts.add_position"
    change_perm = "accounts.change_position"
    tab_prefix = "position"
    edit_url_name = "accounts:position_edit"

    def save(self, obj: Position, form: PositionForm) -> Position:
        return services.position_save(
            actor=self.request.user, position=obj, data=form.cleaned_data, request=self.request
        )


class RoleListView(ObjectListView):
    title = gettext_lazy("角色管理")
    tab_key = "roles"
    permission = "accounts.view_role"
    model = Role
    default_sort = "pk"
    detail_url_name = "accounts:role_edit"
    toolbar = [
        Button(
            gettext_lazy("新增"),
            "accounts:role_create",
            "accounts.add_role",
            "bi-plus-lg",
            gettext_lazy("新增角色"),
        )
    ]
    columns = [
        Column("name", gettext_lazy("角色名称"), sort="name", link=True),
        Column("data_scope", gettext_lazy("数据权限"), accessor="get_data_scope_display"),
        Column("description", gettext_lazy("说明")),
        Column("users", gettext_lazy("人数"), accessor=lambda r: r.user_count),
    ]

    def get_queryset(self, action: str = "view") -> Any:
        from django.db.models import Count

        return super().get_queryset(action).annotate(user_count=Count("users"))


class RoleEditView(SimpleEditView):
    title = gettext_lazy("角色")
    permission = "accounts.view_role"
    model = Role
    form_class = RoleForm
    template = "accounts/role_form.html"
    add_perm = "accounts.add_role"
    change_perm = "accounts.change_role"
    tab_prefix = "role"
    edit_url_name = "accounts:role_edit"

    def save(self, obj: Role, form: RoleForm) -> Role:
        data = {k: form.cleaned_data[k] for k in ("name", "description", "data_scope")}
        return services.role_save(
            actor=self.request.user,
            role=obj,
            data=data,
            permissions=form.cleaned_data["permissions"],
            offered=form.offered,
            request=self.request,
        )
