from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Permission
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.models import TimeStampedModel
from crm.core.scope import DataScope, Grant, ScopedQuerySet
from crm.core.validators import validate_mobile


class Department(TimeStampedModel):
    """A node of the organisation tree. ``path`` holds the ancestor ids ("/1/4/9/") for subtree queries."""

    name = models.CharField(_("部门名称"), max_length=50)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("上级部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("负责人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_departments",
    )
    sort = models.PositiveIntegerField(_("排序"), default=0)
    path = models.CharField(max_length=255, editable=False, db_index=True, default="/")

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["path", "sort", "id"]
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="department_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


class Position(models.Model):
    name = models.CharField(_("岗位名称"), max_length=50, unique=True)
    sort = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.name


class Role(TimeStampedModel):
    """A permission set with a data scope. A user's reach is the union of their roles'."""

    name = models.CharField(_("角色名称"), max_length=50, unique=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    data_scope = models.CharField(_("数据权限"), max_length=20, choices=DataScope.choices, default=DataScope.SELF)
    permissions = models.ManyToManyField(Permission, verbose_name=_("功能权限"), blank=True, related_name="crm_roles")

    class Meta:
        verbose_name = _("角色")
        verbose_name_plural = _("角色")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class UserQuerySet(ScopedQuerySet):
    pass


class UserManager(DjangoUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    pass


class User(AbstractUser):
    """A member of staff. ``username`` is the login name: the Chinese full name, or for two people of the
    same name a distinct one chosen by the administrator (e.g. ``张伟(销售二组)``)."""

    username = models.CharField(
        _("登录名"),
        max_length=64,
        unique=True,
        help_text=_("通常就是中文姓名全称;同名人员请加以区分,例如「张伟(销售二组)」。"),
        error_messages={"unique": _("该登录名已被使用,请换一个(同名人员可加部门区分)。")},
    )
    full_name = models.CharField(_("姓名"), max_length=32, db_index=True)
    mobile = models.CharField(_("手机号"), max_length=11, blank=True, validators=[validate_mobile])
    department = models.ForeignKey(
        Department,
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    position = models.ForeignKey(
        Position,
        verbose_name=_("岗位"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    roles = models.ManyToManyField(Role, verbose_name=_("角色"), blank=True, related_name="users")
    initial_password_set_at = models.DateTimeField(_("初始密码设置时间"), null=True, blank=True)
    password_changed_at = models.DateTimeField(_("密码修改时间"), null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()
    scope_owner_fields = ("id",)
    scope_department_field = "department"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        ordering = ["department__path", "id"]
        permissions = [
            ("reset_password", _("重置密码")),
            ("unlock_user", _("解除登录锁定")),
        ]

    def __str__(self) -> str:
        return self.username

    def get_full_name(self) -> str:
        return self.full_name or self.username

    def get_short_name(self) -> str:
        return self.full_name or self.username

    # --- initial password -------------------------------------------------------------------------
    @property
    def has_initial_password(self) -> bool:
        return self.initial_password_set_at is not None

    @property
    def initial_password_expired(self) -> bool:
        if self.initial_password_set_at is None:
            return False
        days = settings.CRM_INITIAL_PASSWORD_DAYS
        return timezone.now() > self.initial_password_set_at + timedelta(days=days)

    # --- data scope -------------------------------------------------------------------------------
    @cached_property
    def _grant(self) -> Grant:
        from .selectors import grant_for_user

        return grant_for_user(self)

    def data_grant(self, action: str, *, fresh: bool = False) -> Grant:
        if fresh:
            self.__dict__.pop("_grant", None)
        return self._grant
