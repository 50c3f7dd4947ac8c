"""Leads (潜在客户) and formal customers (正式客户), their profile parts, follow-ups and ownership history.

A lead registered by customer service and a customer registration are application forms of the approval
engine: the record itself is the form (``application`` links it), so what was typed into the form is what
the record holds once approved. A lead a rep registers for himself has no application.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.core.models import DictItem, TimeStampedModel
from crm.core.scope import ScopedQuerySet
from crm.core.textsearch import search_keys


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


def dict_fk(code: str, verbose_name: Any, **kw: Any) -> models.ForeignKey:
    """A reference to an item of the dictionary ``code`` (客户来源, 意向等级…). Not indexed on its own: lists
    filter by it within a data scope, whose index leads; an index per dictionary column would only slow
    every insert (an import of 100,000 rows maintains each one)."""
    return models.ForeignKey(
        DictItem,
        verbose_name=verbose_name,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        # a switched-off item stays valid on the records holding it; forms offer active ones for new choices
        limit_choices_to={"dict_type__code": code},
        **kw,
    )


class Party(TimeStampedModel):
    """What leads and customers share: the person, the search keys, the owner and the follow-up dates."""

    name = models.CharField(_("姓名"), max_length=50)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices, blank=True)
    mobile = models.CharField(_("手机号"), max_length=11, blank=True)
    company = models.CharField(_("公司"), max_length=100, blank=True)
    title = models.CharField(_("职位"), max_length=50, blank=True)
    source = dict_fk("customer_source", _("客户来源"))
    note = models.TextField(_("备注"), blank=True, max_length=2000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=pgettext_lazy("record owner", "负责人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # (owner, created_at, id) and (owner, next_followup_on) lead with it
    )
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("部门"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # (department, created_at, id) leads with it
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # (registered_by, created_at, id) leads with it
    )
    owned_since = models.DateTimeField(_("分配时间"), null=True, blank=True)
    last_followup_at = models.DateTimeField(_("最近跟踪"), null=True, blank=True)
    next_followup_on = models.DateField(_("下次跟踪"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("合并到"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        db_index=False,  # a partial index below: rows pointing somewhere are few
    )
    import_batch = models.ForeignKey(
        "core.ImportBatch",
        verbose_name=_("导入批次"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    name_initials = models.CharField(max_length=32, blank=True, editable=False)
    name_pinyin = models.CharField(max_length=100, blank=True, editable=False)
    name_grams = models.CharField(max_length=200, blank=True, editable=False)

    scope_owner_fields = ("owner",)
    scope_department_field = "department"
    search_fts = True  # SQLite keeps the search tokens in <table>_fts (migration 0006)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        for key, value in search_keys(self.name).items():
            setattr(self, key, value)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_initials", "name_pinyin", "name_grams"}
        super().save(*args, **kwargs)


class LeadStatus(models.TextChoices):
    DRAFT = "draft", _("登记中")
    FOLLOWING = "following", _("跟踪中")
    HANDED_OVER = "handed_over", _("待重新分配")
    CONVERTED = "converted", _("已转客户")
    CLOSED = "closed", _("已关闭")
    MERGED = "merged", _("已合并")


class LeadQuerySet(ScopedQuerySet):
    pass


class Lead(Party):
    """A prospective customer (潜在客户)."""

    application = models.OneToOneField(
        "workflow.Application", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    intent = dict_fk("intent_level", _("意向等级"))
    status = models.CharField(_("状态"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.DRAFT)
    close_reason = dict_fk("close_reason", _("关闭原因"))
    close_note = models.CharField(_("关闭说明"), max_length=200, blank=True)
    customer = models.ForeignKey(
        "Customer", verbose_name=_("转化客户"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = LeadQuerySet.as_manager()

    class Meta:
        verbose_name = _("潜在客户")
        verbose_name_plural = _("潜在客户")
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="lead_owner_idx"),
            models.Index(fields=["department", "-created_at", "-id"], name="lead_dept_idx"),
            models.Index(fields=["-created_at", "-id"], name="lead_created_idx"),
            models.Index(fields=["registered_by", "-created_at", "-id"], name="lead_registrar_idx"),
            models.Index(fields=["owner", "next_followup_on"], name="lead_next_idx"),
            models.Index(fields=["owner"], name="lead_handed_over_idx", condition=Q(status="handed_over")),
            # equality (duplicates); a substring of digits uses the trigram index of 0002 on PostgreSQL
            models.Index(fields=["mobile"], name="lead_mobile_idx"),
            # Deleting a lead makes the database look for rows pointing at it (an index for the merged few).
            models.Index(fields=["merged_into"], name="lead_merged_idx", condition=Q(merged_into__isnull=False)),
        ]
        permissions = [
            ("merge_lead", _("合并重复潜在客户")),
            ("register_own_lead", _("登记自己跟进的潜在客户")),
            ("review_lead", _("审核分配潜在客户")),
            ("import_lead", _("导入潜在客户")),
            ("export_lead", _("导出潜在客户")),
        ]


class CustomerStatus(models.TextChoices):
    REGISTERING = "registering", _("登记审核中")
    FORMAL = "formal", _("正式客户")
    HANDED_OVER = "handed_over", _("待重新分配")
    MERGED = "merged", _("已合并")


class CustomerQuerySet(ScopedQuerySet):
    def formal(self) -> CustomerQuerySet:
        return self.filter(status__in=(CustomerStatus.FORMAL, CustomerStatus.HANDED_OVER))


class Customer(Party):
    """A formal customer (正式客户) and, before approval, the customer registration form (客户登记)."""

    application = models.OneToOneField(
        "workflow.Application", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    status = models.CharField(
        _("状态"), max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.REGISTERING
    )
    birthday = models.DateField(_("生日"), null=True, blank=True)
    id_number = models.CharField(_("身份证号"), max_length=18, blank=True)
    card_no = models.CharField(_("会员卡号"), max_length=30, null=True, blank=True, unique=True, editable=False)
    level = dict_fk("customer_level", _("客户级别"))
    industry = dict_fk("industry", _("行业"))
    income_band = dict_fk("income_band", _("年收入"))
    address = models.CharField(_("地址"), max_length=200, blank=True)
    broker_name = models.CharField(_("推荐居间商"), max_length=100, blank=True)
    hobbies = models.ManyToManyField(
        DictItem,
        verbose_name=_("兴趣爱好"),
        blank=True,
        related_name="+",
        limit_choices_to={"dict_type__code": "hobby"},
    )
    hobby_note = models.CharField(_("爱好说明"), max_length=500, blank=True)
    preferences = models.CharField(_("偏好"), max_length=500, blank=True)
    taboos = models.CharField(_("禁忌"), max_length=500, blank=True)
    sms_consent = models.BooleanField(_("接收营销短信"), default=False)
    sms_consent_at = models.DateTimeField(_("短信授权时间"), null=True, blank=True, editable=False)
    sms_consent_source = models.CharField(_("授权来源"), max_length=50, blank=True)
    lead = models.ForeignKey(
        Lead,
        verbose_name=_("来源潜在客户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    approved_at = models.DateTimeField(_("成为正式客户"), null=True, blank=True, editable=False)

    objects = CustomerQuerySet.as_manager()

    # Changes to these are written to the audit log field by field.
    KEY_FIELDS = ("name", "mobile", "id_number", "owner")

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="cust_owner_idx"),
            models.Index(fields=["department", "-created_at", "-id"], name="cust_dept_idx"),
            models.Index(fields=["-created_at", "-id"], name="cust_created_idx"),
            models.Index(fields=["registered_by", "-created_at", "-id"], name="cust_registrar_idx"),
            models.Index(fields=["owner", "next_followup_on"], name="cust_next_idx"),
            # a leader's customers handed over to them, waiting for 【分配】 (客户跟踪's quick filter): few
            models.Index(fields=["owner"], name="cust_handed_over_idx", condition=Q(status="handed_over")),
            models.Index(fields=["mobile"], name="cust_mobile_idx"),
            models.Index(fields=["id_number"], name="cust_id_number_idx"),
            # Deleting a customer or a lead makes the database look for the rows pointing at it: partial
            # indexes hold only the few that do, so inserting the many that do not costs nothing.
            models.Index(fields=["merged_into"], name="cust_merged_idx", condition=Q(merged_into__isnull=False)),
            models.Index(fields=["lead"], name="cust_lead_idx", condition=Q(lead__isnull=False)),
        ]
        permissions = [
            ("merge_customer", _("合并重复客户")),
            ("review_customer", _("审核客户资料")),
            ("import_customer", _("导入客户")),
            ("export_customer", _("导出客户")),
        ]


class Property(models.Model):
    """房产信息: one of a customer's properties."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="properties")
    community = models.CharField(_("小区"), max_length=100)
    district = models.CharField(_("区县"), max_length=50, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    area = models.DecimalField(_("建筑面积(㎡)"), max_digits=8, decimal_places=2, null=True, blank=True)
    layout = models.CharField(_("户型"), max_length=50, blank=True)
    usage = models.CharField(_("用途"), max_length=10, blank=True, choices=[("自住", _("自住")), ("投资", _("投资"))])

    class Meta:
        verbose_name = _("房产信息")
        verbose_name_plural = _("房产信息")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.community


class Vehicle(models.Model):
    """车辆信息: one of a customer's cars."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="vehicles")
    brand = models.CharField(_("品牌"), max_length=50)
    model = models.CharField(_("车型"), max_length=50, blank=True)
    plate = models.CharField(_("车牌"), max_length=20, blank=True)
    color = models.CharField(_("颜色"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("车辆信息")
        verbose_name_plural = _("车辆信息")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.brand} {self.model}".strip()


class FamilyMember(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="family")
    relation = models.CharField(_("关系"), max_length=20)
    name = models.CharField(_("姓名"), max_length=50)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("家庭成员")
        verbose_name_plural = _("家庭成员")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.relation} {self.name}"


class Anniversary(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="anniversaries")
    name = models.CharField(_("纪念日"), max_length=50)
    date = models.DateField(_("日期"))
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("纪念日")
        verbose_name_plural = _("纪念日")
        ordering = ["date", "id"]

    def __str__(self) -> str:
        return self.name


class FollowUp(models.Model):
    """跟踪记录: one contact with a lead or a customer."""

    # (subject, at, id) below leads with each of these: no index of their own
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="followups", db_index=False
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="followups", db_index=False
    )
    at = models.DateTimeField(_("跟踪时间"))
    method = dict_fk("followup_method", _("跟踪方式"))
    content = models.TextField(_("跟踪内容"), max_length=2000)
    result = models.CharField(_("跟踪结果"), max_length=200, blank=True)
    intent = dict_fk("intent_level", _("意向等级"))
    next_on = models.DateField(_("下次跟踪日期"), null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("跟踪人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("录入时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("跟踪记录")
        verbose_name_plural = _("跟踪记录")
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(lead__isnull=False, customer__isnull=True) | Q(lead__isnull=True, customer__isnull=False),
                name="followup_one_subject",
            )
        ]
        indexes = [
            models.Index(fields=["customer", "-at", "-id"], name="followup_customer_idx"),
            models.Index(fields=["lead", "-at", "-id"], name="followup_lead_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.content[:20]}"


class HandoverAction(models.TextChoices):
    ASSIGN = "assign", _("分配")
    REGISTER = "register", _("登记")
    TRANSFER = "transfer", _("移交")
    REASSIGN = "reassign", _("重新分配")
    CLOSE = "close", _("关闭客户")
    CONVERT = "convert", _("转客户")
    APPROVE = "approve", _("成为正式客户")
    MERGE = "merge", _("合并")


class Handover(models.Model):
    """The ownership history of a lead or customer: who had it, who handed it to whom, and why."""

    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="handovers")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="handovers")
    at = models.DateTimeField(auto_now_add=True)
    action = models.CharField(max_length=20, choices=HandoverAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["lead", "at"], name="handover_lead_idx"),
            models.Index(fields=["customer", "at"], name="handover_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.at:%Y-%m-%d %H:%M}"


class Counter(models.Model):
    """A named sequence (会员卡号), advanced with ``UPDATE … SET value = value + 1`` under a row lock."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
