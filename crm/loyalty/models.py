"""Member levels, consumption and the points ledger (消费与积分).

The ledger is append-only. A ``PointsEntry`` is never changed or deleted once written; neither is a
``Consumption`` (a refund is a new, negative consumption pointing at its original), a ``LevelChange`` or a
``PointsLotUse``. The only figures that move are two caches kept in the same transaction as the entries that
move them, under a lock of the member's ``PointsAccount`` row:

- ``PointsAccount.balance`` = the sum of the account's entries (a database CHECK keeps it ≥ 0);
- ``PointsLot.remaining``: every positive entry (earn, gift, positive adjust) opens a lot of points with an
  expiry date; every negative entry (redeem, expire, negative adjust, reversal) takes its points from lots,
  soonest-expiring (that is, oldest) first, and records what it took from each as ``PointsLotUse`` rows. So
  ``remaining`` = ``points`` − the lot's uses, and the balance = the sum of the remainders.

``manage.py points_reconcile`` proves the three agree. Keeping the lots in their own table, rather than a
``remaining`` column on the entries, is what lets every entry stay truly immutable.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.scope import ScopedQuerySet
from crm.workflow.registry import FormModel

from .errors import AppendOnlyViolation

# ---------------------------------------------------------------------------------------------------
# Append-only records
# ---------------------------------------------------------------------------------------------------


class AppendOnlyQuerySet(ScopedQuerySet):
    """A queryset that cannot change or delete the rows it selects."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only: update refused")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only: delete refused")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyViolation(f"{self.model.__name__} rows are append-only: bulk_update refused")


class AppendOnlyModel(models.Model):
    """A record that is inserted once and then only read."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyViolation(f"{type(self).__name__} #{self.pk} is append-only: save of a stored row refused")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyViolation(f"{type(self).__name__} #{self.pk} is append-only: delete refused")


# ---------------------------------------------------------------------------------------------------
# Rules: levels and settings (系统管理 › 积分规则)
# ---------------------------------------------------------------------------------------------------


class MemberLevel(models.Model):
    """会员等级: a member reaches a level when the net consumption of the rolling window reaches its threshold,
    and earns points at its multiplier. The lowest level's threshold is 0."""

    name = models.CharField(_("等级名称"), max_length=20, unique=True)
    rank = models.PositiveSmallIntegerField(_("级别"), unique=True, help_text=_("数字越大等级越高。"))
    threshold = models.DecimalField(
        _("升级门槛(元)"),
        max_digits=14,
        decimal_places=2,
        help_text=_("统计周期内的净消费(消费减退款)达到此金额即升到本等级。"),
    )
    multiplier = models.DecimalField(
        _("积分倍率"), max_digits=5, decimal_places=2, help_text=_("每消费 1 元所得积分。")
    )

    class Meta:
        verbose_name = _("会员等级")
        verbose_name_plural = _("会员等级")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=0), name="level_threshold_gte_0"),
            models.CheckConstraint(condition=Q(multiplier__gte=0), name="level_multiplier_gte_0"),
        ]

    def __str__(self) -> str:
        return self.name


class Rounding(models.TextChoices):
    DOWN = "down", _("向下取整")
    HALF_UP = "half_up", _("四舍五入")
    UP = "up", _("向上取整")


class LoyaltySettings(models.Model):
    """积分规则: one row (``id`` = 1)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    window_months = models.PositiveSmallIntegerField(
        _("等级统计周期(月)"), default=12, help_text=_("按最近这么多个月的净消费评定会员等级。")
    )
    rounding = models.CharField(_("积分取整"), max_length=10, choices=Rounding.choices, default=Rounding.DOWN)
    expiry_months = models.PositiveSmallIntegerField(
        _("积分有效期(月)"), default=12, help_text=_("积分自获得之日起这么多个月后过期;0 表示永不过期。")
    )
    last_review_on = models.DateField(_("上次年度评定"), null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("积分规则")
        verbose_name_plural = _("积分规则")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="loyalty_settings_single_row")]

    def __str__(self) -> str:
        return str(_("积分规则"))


# ---------------------------------------------------------------------------------------------------
# Consumption (消费记录)
# ---------------------------------------------------------------------------------------------------


class Category(models.TextChoices):
    DINING = "dining", _("餐饮")
    TEA_WINE = "tea_wine", _("茶酒")
    ROOM = "room", _("客房")
    SPA = "spa", _("SPA")
    ENTERTAINMENT = "entertainment", _("娱乐")
    MEMBERSHIP = "membership", _("会籍")
    OTHER = "other", _("其他")


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("现金")
    CARD = "card", _("刷卡")
    STORED_VALUE = "stored_value", _("储值")
    TRANSFER = "transfer", _("转账")
    WECHAT = "wechat", _("微信")
    ALIPAY = "alipay", _("支付宝")
    ON_ACCOUNT = "on_account", _("挂账")
    OTHER = "other", _("其他")


class ConsumptionSource(models.TextChoices):
    MANUAL = "manual", _("手工")
    IMPORT = "import", _("导入")
    API = "api", _("接口")


class ConsumptionQuerySet(AppendOnlyQuerySet):
    def sales(self) -> ConsumptionQuerySet:
        return self.filter(refund_of__isnull=True)


class Consumption(AppendOnlyModel):
    """消费记录: a sale (positive amount) or a refund (negative amount, ``refund_of`` its original sale).

    ``order_no`` is unique per ``client_key`` among sales, and among refunds: the same POS order sent twice counts
    once. The one exception is an order whose every sale was offset by undoing its import: it may be recorded again,
    one ``order_seq`` further on, so a corrected file can be imported again as it is.

    ``client_key`` names the system the order number comes from: empty for the club's own entries (by hand and
    imported), and for the POS API the stable identifier of the API client that posted it (the API part sets it;
    the order number of one POS cannot collide with another's).

    The data scope reaches a consumption through its customer's owner and department.
    """

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("客户"),
        on_delete=models.PROTECT,
        related_name="consumptions",
        db_index=False,  # (customer, occurred_at, id) leads with it
    )
    occurred_at = models.DateTimeField(_("消费时间"))
    amount = models.DecimalField(_("金额(元)"), max_digits=12, decimal_places=2)
    category = models.CharField(_("消费类别"), max_length=20, choices=Category.choices)
    venue = models.CharField(_("消费场所"), max_length=100, blank=True)
    order_no = models.CharField(_("订单号"), max_length=64, blank=True)
    order_seq = models.PositiveSmallIntegerField(
        _("订单号序次"),
        default=0,
        editable=False,
        help_text=_("同一订单号第几次登记:之前各次都已随撤销的导入冲销。"),
    )
    payment = models.CharField(_("支付方式"), max_length=20, choices=PaymentMethod.choices, blank=True)
    source = models.CharField(_("来源"), max_length=10, choices=ConsumptionSource.choices)
    client_key = models.CharField(_("来源系统"), max_length=64, blank=True)
    refund_of = models.ForeignKey(
        "self",
        verbose_name=_("原消费"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        db_index=False,  # a partial index below: refunds are few
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("录入时间"), default=timezone.now)
    import_batch = models.ForeignKey(
        "core.ImportBatch",
        verbose_name=_("导入批次"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # a partial index below: most records are not imported
        editable=False,
        help_text=_("导入的消费,以及撤销导入时冲销它们的退款。"),
    )

    objects = ConsumptionQuerySet.as_manager()
    scope_owner_fields = ("customer__owner",)
    scope_department_field = "customer__department"

    # Set by services.consumption_record / consumption_refund on the record they return (not stored).
    points_earned: int
    points_reversed: int
    balance_after: int
    level_after: MemberLevel

    class Meta:
        verbose_name = _("消费记录")
        verbose_name_plural = _("消费记录")
        constraints = [
            models.CheckConstraint(
                condition=Q(refund_of__isnull=True, amount__gt=0) | Q(refund_of__isnull=False, amount__lt=0),
                name="consumption_sign",
            ),
            models.UniqueConstraint(
                fields=["client_key", "order_no", "order_seq"],
                condition=Q(refund_of__isnull=True) & ~Q(order_no=""),
                name="consumption_sale_order_unique",
            ),
            models.UniqueConstraint(
                fields=["client_key", "order_no"],
                condition=Q(refund_of__isnull=False) & ~Q(order_no=""),
                name="consumption_refund_order_unique",
            ),
        ]
        indexes = [
            # the customer's 消费记录 tab, and the rolling net consumption of the level rules
            models.Index(fields=["customer", "-occurred_at", "-id"], name="consumption_customer_idx"),
            # 会员管理 › 消费记录, newest first (keyset pages); a scoped list joins the customer, whose own
            # (owner, …) and (department, …) indexes lead
            models.Index(fields=["-occurred_at", "-id"], name="consumption_time_idx"),
            models.Index(fields=["refund_of"], name="consumption_refund_idx", condition=Q(refund_of__isnull=False)),
            models.Index(
                fields=["import_batch"], name="consumption_import_idx", condition=Q(import_batch__isnull=False)
            ),
        ]
        permissions = [
            ("refund_consumption", _("登记退款")),
            ("export_consumption", _("导出消费记录")),
            ("import_consumption", _("导入消费记录")),
        ]

    def __str__(self) -> str:
        return f"{self.order_no or self.pk} {self.amount}"

    @property
    def is_refund(self) -> bool:
        return self.refund_of_id is not None

    @property
    def recorded_by(self) -> str:
        """Who recorded it: a person by name, or 收银系统 for what a POS posted through the API."""
        if self.operator is not None:
            return str(self.operator.full_name)
        return str(_("收银系统")) if self.source == ConsumptionSource.API else ""


# ---------------------------------------------------------------------------------------------------
# Points (积分)
# ---------------------------------------------------------------------------------------------------


class PointsAccountQuerySet(ScopedQuerySet):
    pass


class PointsAccount(models.Model):
    """A member's points: the cached balance (the sum of the entries, never negative) and the member level.
    Created with the member's first points or consumption; a customer without one has 0 points at the lowest
    level."""

    customer = models.OneToOneField(
        "customers.Customer", verbose_name=_("客户"), on_delete=models.PROTECT, related_name="points_account"
    )
    balance = models.BigIntegerField(_("积分余额"), default=0)
    level = models.ForeignKey(MemberLevel, verbose_name=_("会员等级"), on_delete=models.PROTECT, related_name="+")
    level_since = models.DateTimeField(_("等级生效时间"), default=timezone.now)
    created_at = models.DateTimeField(_("开户时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    objects = PointsAccountQuerySet.as_manager()
    scope_owner_fields = ("customer__owner",)
    scope_department_field = "customer__department"

    class Meta:
        verbose_name = _("积分账户")
        verbose_name_plural = _("积分账户")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="points_balance_gte_0")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.balance}"


class EntryKind(models.TextChoices):
    EARN = "earn", _("消费积分")
    GIFT = "gift", _("积分赠送")
    REDEEM = "redeem", _("积分兑换")
    ADJUST = "adjust", _("积分调整")
    EXPIRE = "expire", _("积分过期")
    REVERSAL = "reversal", _("退款扣回")


CREDIT_KINDS = (EntryKind.EARN, EntryKind.GIFT)
DEBIT_KINDS = (EntryKind.REDEEM, EntryKind.EXPIRE, EntryKind.REVERSAL)


class PointsEntry(AppendOnlyModel):
    """积分流水: one movement of a member's points (signed). Never changed or deleted."""

    account = models.ForeignKey(
        PointsAccount,
        verbose_name=_("积分账户"),
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,  # (account, created_at, id) leads with it
    )
    kind = models.CharField(_("类型"), max_length=10, choices=EntryKind.choices)
    points = models.BigIntegerField(_("积分"))
    balance_after = models.BigIntegerField(_("变动后余额"))
    consumption = models.ForeignKey(
        Consumption,
        verbose_name=_("消费记录"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="points_entries",
        db_index=False,  # a partial index below
    )
    reverses = models.ForeignKey(
        "self",
        verbose_name=_("扣回的积分"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversals",
        db_index=False,  # a partial index below
    )
    reason = models.CharField(_("事由"), max_length=200, blank=True)
    source_ref = models.CharField(
        _("来源"), max_length=50, blank=True, help_text=_("如 application:12(审批通过的申请单)。")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()
    scope_owner_fields = ("account__customer__owner",)
    scope_department_field = "account__customer__department"

    class Meta:
        verbose_name = _("积分流水")
        verbose_name_plural = _("积分流水")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind__in=CREDIT_KINDS, points__gt=0)
                    | Q(kind__in=DEBIT_KINDS, points__lt=0)
                    | (Q(kind=EntryKind.ADJUST) & ~Q(points=0))
                ),
                name="points_entry_sign",
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="points_entry_balance_gte_0"),
            models.CheckConstraint(
                condition=Q(kind=EntryKind.REVERSAL, reverses__isnull=False, consumption__isnull=False)
                | (~Q(kind=EntryKind.REVERSAL) & Q(reverses__isnull=True)),
                name="points_entry_reversal_refs",
            ),
        ]
        indexes = [
            # the member's ledger, newest first (keyset pages)
            models.Index(fields=["account", "-created_at", "-id"], name="points_entry_account_idx"),
            # 会员管理 › 积分流水
            models.Index(fields=["-created_at", "-id"], name="points_entry_time_idx"),
            models.Index(
                fields=["consumption"], name="points_entry_consumption_idx", condition=Q(consumption__isnull=False)
            ),
            models.Index(fields=["reverses"], name="points_entry_reverses_idx", condition=Q(reverses__isnull=False)),
        ]
        permissions = [
            ("redeem_points", _("积分兑换")),
            ("export_pointsentry", _("导出积分流水")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"

    @property
    def order_no(self) -> str:
        """The order number the entry came with: its sale's or refund's, or the POS redemption's (``source_ref``
        ``pos:<number>``); "" when it has none."""
        if self.consumption is not None:
            return self.consumption.order_no
        return self.source_ref[4:] if self.source_ref.startswith("pos:") else ""

    @property
    def done_by(self) -> str:
        """Who made the movement: a person by name, or 收银系统 for a POS redemption or a sale a POS posted."""
        if self.created_by is not None:
            return str(self.created_by.full_name)
        by_pos = self.source_ref.startswith("pos") or (
            self.consumption is not None and self.consumption.source == ConsumptionSource.API
        )
        return str(_("收银系统")) if by_pos else ""


class PointsLot(models.Model):
    """The points one positive entry brought, what is left of them and when they expire. ``remaining`` is the
    only bookkeeping that changes, always with the ``PointsLotUse`` rows that explain it."""

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="lots", db_index=False)
    entry = models.OneToOneField(PointsEntry, on_delete=models.PROTECT, related_name="lot")
    points = models.BigIntegerField(_("获得积分"))
    remaining = models.BigIntegerField(_("剩余积分"))
    expires_on = models.DateField(_("到期日"), null=True, blank=True, help_text=_("这一天起不再有效;空表示永不过期。"))

    class Meta:
        verbose_name = _("积分批次")
        verbose_name_plural = _("积分批次")
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0, remaining__gte=0, remaining__lte=F("points")), name="points_lot_remaining"
            ),
        ]
        indexes = [
            # a member's open lots, soonest-expiring first: what a debit takes
            models.Index(
                fields=["account", "expires_on", "id"], name="points_lot_open_idx", condition=Q(remaining__gt=0)
            ),
            # the expiry run: open lots by date
            models.Index(fields=["expires_on"], name="points_lot_expiry_idx", condition=Q(remaining__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.points} → {self.expires_on}"


class PointsLotUse(AppendOnlyModel):
    """What one negative entry took from one lot."""

    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="uses")
    entry = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="lot_uses")
    points = models.BigIntegerField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(points__gt=0), name="points_lot_use_gt_0")]

    def __str__(self) -> str:
        return f"{self.entry_id} ← {self.lot_id}: {self.points}"


class LevelChangeReason(models.TextChoices):
    UPGRADE = "upgrade", _("消费升级")
    REVIEW = "review", _("年度评定")
    MANUAL = "manual", _("手工调整")


class LevelChange(AppendOnlyModel):
    """A member's level moved: when, from what, to what, and why."""

    account = models.ForeignKey(PointsAccount, on_delete=models.PROTECT, related_name="level_changes", db_index=False)
    from_level = models.ForeignKey(
        MemberLevel, verbose_name=_("原等级"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_level = models.ForeignKey(MemberLevel, verbose_name=_("新等级"), on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("原因"), max_length=10, choices=LevelChangeReason.choices)
    net_amount = models.DecimalField(_("统计周期净消费"), max_digits=14, decimal_places=2, null=True, blank=True)
    consumption = models.ForeignKey(
        Consumption, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("等级变动")
        verbose_name_plural = _("等级变动")
        indexes = [models.Index(fields=["account", "-at", "-id"], name="level_change_account_idx")]

    def __str__(self) -> str:
        return f"{self.from_level_id} → {self.to_level_id} ({self.reason})"


# ---------------------------------------------------------------------------------------------------
# 积分调整: an application form of the approval engine
# ---------------------------------------------------------------------------------------------------


APPLY_ADJUSTMENT = "loyalty.add_pointsadjustment"  # who may apply for a 积分调整 (its form type's permission)


class PointsAdjustment(FormModel):
    """积分调整申请: approved, it adds (or, negative, takes) the points to the member's account."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("会员"), on_delete=models.PROTECT, related_name="+"
    )
    points = models.BigIntegerField(_("调整积分"), help_text=_("正数增加,负数扣减。"))
    magnitude = models.PositiveBigIntegerField(_("调整积分(绝对值)"), default=0, editable=False)
    reason = models.CharField(_("调整原因"), max_length=200)

    class Meta:
        verbose_name = _("积分调整")
        verbose_name_plural = _("积分调整")

    def __str__(self) -> str:
        return f"{self.customer} {self.points:+d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.magnitude = abs(self.points or 0)
        super().save(*args, **kwargs)
