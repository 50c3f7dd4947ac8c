from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from .scope import ScopedManager


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


class AuditAction(models.TextChoices):
    CREATE = "create", _("新增")
    UPDATE = "update", _("修改")
    DELETE = "delete", _("删除")
    LOGIN = "login", _("登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
    LOGOUT = "logout", _("退出")
    PASSWORD_CHANGE = "password_change", _("修改密码")
    PASSWORD_RESET = "password_reset", _("重置密码")
    EXPORT = "export", _("导出")
    UNLOCK = "unlock", _("解锁")


class AuditLog(models.Model):
    """One row per business write, login event and export: who, when, what changed."""

    at = models.DateTimeField(_("时间"), db_default=Now(), db_index=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("操作人姓名"), max_length=64, blank=True)
    action = models.CharField(_("操作"), max_length=20, choices=AuditAction.choices)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("对象类型"), null=True, blank=True, on_delete=models.SET_NULL
    )
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    changes = models.JSONField(_("变更内容"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)

    objects = ScopedManager()
    scope_owner_fields = ("actor",)

    class Meta:
        verbose_name = _("审计日志")
        verbose_name_plural = _("审计日志")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at_idx"),
            models.Index(fields=["actor", "-at", "-id"], name="audit_actor_at_idx"),
            models.Index(fields=["action", "-at", "-id"], name="audit_action_at_idx"),
            models.Index(fields=["content_type", "object_id"], name="audit_object_idx"),
        ]
        permissions = [("view_sensitive", _("查看完整手机号与身份证号"))]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.get_action_display()} {self.object_repr}"


class DictType(models.Model):
    """A code/label list used by forms and filters (客户来源, 跟进方式, 兴趣爱好…)."""

    code = models.SlugField(_("编码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=50, unique=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("数据字典")
        verbose_name_plural = _("数据字典")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class DictItem(models.Model):
    dict_type = models.ForeignKey(DictType, verbose_name=_("字典"), on_delete=models.CASCADE, related_name="items")
    code = models.CharField(_("编码"), max_length=50)
    label = models.CharField(_("名称"), max_length=50)
    sort = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("字典项")
        verbose_name_plural = _("字典项")
        ordering = ["dict_type", "sort", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dict_type", "code"], name="dictitem_code_unique"),
            models.UniqueConstraint(fields=["dict_type", "label"], name="dictitem_label_unique"),
        ]

    def __str__(self) -> str:
        return self.label


class ImportStatus(models.TextChoices):
    PREVIEW = "preview", _("待确认")
    COMMITTED = "committed", _("已导入")
    UNDONE = "undone", _("已撤销")


class ImportJob(models.TextChoices):
    COMMIT = "commit", _("导入")
    UNDO = "undo", _("撤销")


class ImportBatch(models.Model):
    """One upload of an import: previewed, then committed in one transaction, and undoable as a whole.

    The file itself is kept until the batch is committed (the preview and the commit read the same bytes);
    what was skipped, and why, stays in ``problems``."""

    kind = models.CharField(_("导入类型"), max_length=30)
    filename = models.CharField(_("文件名"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("导入人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    status = models.CharField(_("状态"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.PREVIEW)
    total = models.PositiveIntegerField(_("数据行"), default=0)
    imported = models.PositiveIntegerField(_("已导入"), default=0)
    skipped = models.PositiveIntegerField(_("未导入"), default=0)
    problems = models.JSONField(_("问题行"), default=list, blank=True)
    unused_columns = models.JSONField(_("未导入的列"), default=list, blank=True)
    # Sentences about the file as a whole that stop no row but the importer should read before 【导入】
    # (a name in the 负责人 column that is one person's login name and another's full name).
    notices = models.JSONField(_("提醒"), default=list, blank=True)
    data = models.BinaryField(null=True, blank=True, editable=False)
    committed_at = models.DateTimeField(_("导入时间"), null=True, blank=True)
    undone_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    # A commit or undo handed to the background (``crm.core.tasks.run_import``): what, since when, and why the
    # last one failed (empty when it did not).
    job = models.CharField(_("后台处理"), max_length=10, choices=ImportJob.choices, blank=True, default="")
    job_queued_at = models.DateTimeField(_("提交后台时间"), null=True, blank=True)
    job_error = models.CharField(_("后台处理失败原因"), max_length=500, blank=True, default="")

    objects = ScopedManager()
    scope_owner_fields = ("created_by",)

    class Meta:
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")
        indexes = [models.Index(fields=["created_by", "kind", "-created_at"], name="import_mine_idx")]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"


class ApiClient(models.Model):
    """A system that calls the API (the club's POS): its key, stored hashed, and the operations it may use.

    The key is shown once, when it is made; only its first characters (to find the client) and its SHA-256
    are kept. A key is 256 random bits, so a fast hash is safe, and every request can afford it."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    key_prefix = models.CharField(_("密钥前缀"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    key_created_at = models.DateTimeField(_("密钥生成时间"), null=True, editable=False)
    operations = models.JSONField(_("允许的操作"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("接口客户端")
        verbose_name_plural = _("接口客户端")

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def audit_display(name: str, value: Any) -> str | None:
        """In the audit log, the operations by their names (上传消费与退款), not their codes."""
        if name != "operations" or not isinstance(value, list) or not value:
            return None
        from .api import OPERATIONS

        return "、".join(str(OPERATIONS.get(code, code)) for code in value)

    @property
    def audit_name(self) -> str:
        return f"{_('接口')}:{self.name}"[:64]


class IdempotencyKey(models.Model):
    """One answered write request of an API client, by its ``Idempotency-Key``: the request's fingerprint and the
    answer, which a retry with the same key and body receives again. Stored in the request's own transaction."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.TextField()  # the answer's exact text (JSON), so that a replay is identical
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_client_key_uniq")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return self.key
