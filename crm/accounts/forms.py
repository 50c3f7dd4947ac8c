from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from django import forms
from django.contrib.auth.forms import PasswordChangeForm as DjangoPasswordChangeForm
from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from crm.core.forms import ModelMultipleChoiceField
from crm.core.lists import ListFilterForm
from crm.core.menu import menu
from crm.core.scope import DataScope

from .models import Department, Position, Role, User
from .selectors import describe_user, permission_label, same_name_users


def choice_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    return cast(forms.ModelChoiceField, form.fields[name])


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("姓名"),
        max_length=64,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "placeholder": _("中文姓名全称")}),
    )
    password = forms.CharField(
        label=_("密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class PasswordChangeForm(DjangoPasswordChangeForm):
    error_messages = {
        **DjangoPasswordChangeForm.error_messages,
        "password_incorrect": _("原密码不正确,请重新输入。"),
        "password_mismatch": _("两次输入的新密码不一致。"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = _("原密码")
        self.fields["new_password1"].label = _("新密码")
        self.fields["new_password2"].label = _("确认新密码")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        new = data.get("new_password1")
        # ``old_password`` is in the data only when it is the person's current password.
        if new and new == data.get("old_password") and not self.has_error("new_password2"):
            self.add_error("new_password1", _("新密码不能与原密码相同。"))
        return data


class UserFilterForm(ListFilterForm):
    q = forms.CharField(label=_("姓名或登录名"), required=False, max_length=32)
    department = forms.ModelChoiceField(label=_("部门"), queryset=Department.objects.all(), required=False)
    is_active = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), ("1", _("在用")), ("0", _("已停用"))]
    )

    def filter_q(self, qs: QuerySet, value: str) -> QuerySet:
        return qs.filter(Q(full_name__contains=value) | Q(username__contains=value))

    def filter_department(self, qs: QuerySet, value: Department) -> QuerySet:
        return qs.filter(department__path__startswith=value.path)

    def filter_is_active(self, qs: QuerySet, value: str) -> QuerySet:
        return qs.filter(is_active=value == "1")


class UserForm(forms.ModelForm):
    """A person's data. A new person named as someone already here is saved only at the second 【保存】: the first
    names the namesakes (the same person created twice is the usual mistake), and carries the name in
    ``confirm_namesake`` for the second."""

    roles = ModelMultipleChoiceField(
        label=_("角色"), queryset=Role.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    confirm_namesake = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = User
        fields = ["full_name", "username", "mobile", "department", "position", "roles", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].required = False
        self.fields["username"].help_text = _("留空则使用姓名;与他人同名时系统自动加上部门,例如「张伟(销售二组)」。")
        choice_field(self, "department").queryset = Department.objects.order_by("path")
        self.fields["department"].required = True
        self.fields["is_active"].label = _("在用")  # as the list and the guide call it
        self.fields["is_active"].help_text = _("取消勾选即停用账号,并立即退出所有登录;停用代替删除,历史记录保留。")
        if self.instance.pk:
            del self.fields["confirm_namesake"]

    def clean_username(self) -> str:
        value = (self.cleaned_data.get("username") or "").strip()
        if self.instance.pk and not value:
            raise forms.ValidationError(_("请填写登录名。"))
        return value

    def clean_full_name(self) -> str:
        value = (self.cleaned_data.get("full_name") or "").strip()
        if not value:
            raise forms.ValidationError(_("请填写姓名。"))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.instance.pk or self.errors:
            return data
        name = data["full_name"]
        namesakes = same_name_users(name, include_inactive=True)
        if namesakes and data.get("confirm_namesake") != name:
            carried = cast(QueryDict, self.data).copy()  # the hidden field carries the name to the second 【保存】
            carried[self.add_prefix("confirm_namesake")] = name
            self.data = carried
            raise forms.ValidationError(
                _("已有同名用户:%(who)s。如果是同一人,请不要重复创建;确实是另一位同名同事,请再次点击【保存】。")
                % {"who": ";".join(describe_user(u) for u in namesakes)},
                code="namesake",
            )
        return data


class HandOverWorkForm(forms.Form):
    """【转交待办】 on a person's page: the active colleague who takes over what the person holds."""

    hand_over_to = forms.ModelChoiceField(
        label=_("接替人"),
        queryset=User.objects.none(),
        error_messages={"required": _("请选择接替的同事。"), "invalid_choice": _("请选择一位在用的同事接替。")},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = choice_field(self, "hand_over_to")
        field.queryset = (
            User.objects.filter(is_active=True)
            .exclude(pk=user.pk)
            .select_related("department")
            .order_by("department__path", "department__sort", "full_name")
        )
        field.label_from_instance = _with_department  # type: ignore[method-assign,assignment]


def _with_department(user: User) -> str:
    return f"{user.full_name}({user.department})" if user.department else user.full_name


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["name", "parent", "manager", "sort"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parents = Department.objects.order_by("path")
        if self.instance.pk:
            parents = parents.exclude(path__startswith=self.instance.path)
        choice_field(self, "parent").queryset = parents
        choice_field(self, "manager").queryset = User.objects.filter(is_active=True).order_by("full_name")

    def validate_unique(self) -> None:
        # Uniqueness of (parent, name) is checked by the service against the final parent.
        pass


class PositionForm(forms.ModelForm):
    class Meta:
        model = Position
        fields = ["name", "sort"]


@dataclass(frozen=True)
class PermissionGroup:
    """The permissions of one menu node on the role page.

    A permission several nodes need (查看潜在客户 opens 潜在客户跟踪 and its three weekly lists) has one box, under
    the first of those nodes: boxes of one permission in several places would contradict each other, and a
    box left ticked elsewhere would undo an unticked one. The later nodes name it in ``follows``, with the
    node where it is ticked.
    """

    label: str
    path: str  # the node's parents in the menu, e.g. "客户管理 › 潜在客户管理"
    permissions: list[Permission] = field(default_factory=list)
    follows: list[tuple[Permission, str]] = field(default_factory=list)


def _permissions_by_code(codes: set[str]) -> dict[str, Permission]:
    q = Q()
    for code in codes:
        app, codename = code.split(".", 1)
        q |= Q(content_type__app_label=app, codename=codename)
    found = Permission.objects.filter(q).select_related("content_type") if codes else Permission.objects.none()
    return {f"{p.content_type.app_label}.{p.codename}": p for p in found}


def grouped_permissions() -> list[PermissionGroup]:
    """Every assignable permission, once, under the first menu node it belongs to, in menu order; then, under
    其他权限, each permission some role holds that no menu node lists, so that the page shows every permission
    in use and the administrator can give it to another role or take it away."""
    nodes: list[tuple[str, str, tuple[str, ...]]] = []
    parents: list[str] = []
    for node, depth in menu.walk():
        del parents[depth:]
        if node.all_permissions:
            nodes.append((str(node.label), " › ".join(parents), node.all_permissions))
        parents.append(str(node.label))
    by_code = _permissions_by_code({code for _label, _path, codes in nodes for code in codes})
    groups: list[PermissionGroup] = []
    home: dict[int, str] = {}  # permission → the node whose box it is
    for label, path, codes in nodes:
        group = PermissionGroup(label, path)
        for perm in (by_code[c] for c in dict.fromkeys(codes) if c in by_code):
            if perm.pk in home:
                group.follows.append((perm, home[perm.pk]))
            else:
                home[perm.pk] = label
                group.permissions.append(perm)
        if group.permissions or group.follows:
            groups.append(group)
    others = list(
        Permission.objects.filter(crm_roles__isnull=False)
        .exclude(pk__in=list(home))
        .distinct()
        .select_related("content_type")
        .order_by("content_type__app_label", "codename")
    )
    if others:
        groups.append(PermissionGroup(str(_("其他权限")), "", others))
    return groups


class RoleForm(forms.ModelForm):
    permissions = ModelMultipleChoiceField(
        label=_("功能权限"),
        queryset=Permission.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Role
        fields = ["name", "description", "data_scope"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups = grouped_permissions()
        self.offered = Permission.objects.filter(pk__in=[p.pk for g in self.groups for p in g.permissions])
        choice_field(self, "permissions").queryset = self.offered
        cast(forms.ChoiceField, self.fields["data_scope"]).choices = DataScope.choices
        if self.instance.pk:
            self.initial["permissions"] = list(self.instance.permissions.values_list("pk", flat=True))

    def permission_groups(
        self,
    ) -> list[tuple[PermissionGroup, list[tuple[Permission, str, bool]], list[tuple[str, str]]]]:
        """Each group with its boxes (permission, label, ticked) and the permissions it follows (label, node)."""
        chosen = {
            str(v)
            for v in (
                cast(QueryDict, self.data).getlist("permissions")
                if self.is_bound
                else self.initial.get("permissions", [])
            )
        }
        return [
            (
                group,
                [(p, permission_label(p), str(p.pk) in chosen) for p in group.permissions],
                [(permission_label(p), node) for p, node in group.follows],
            )
            for group in self.groups
        ]
