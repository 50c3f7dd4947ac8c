"""【导入】 of consumption records (消费导入): the columns, the check of every row, the commit, undo.

The framework is the customers' (``crm.core.imports`` reads the file; an ``ImportBatch`` keeps the upload until
it is committed, and every row's problems): upload → preview with each row's problems → commit of the good rows
in one transaction → a report of what was skipped and why → undo of the whole batch.

**Checking** reads the database once per kind of fact (the members the file names, within the importer's data
scope; the order numbers already recorded), never once per row.

**Writing** applies the earning rule of ``services.consumption_record`` to the whole batch at once: for each
row, in the order the sales happened, the member earns ``amount × multiplier`` of the level held before that
sale (rounded by the rule), the points open a lot expiring ``expiry_months`` after the sale's date, and a
member whose rolling net consumption reaches a higher threshold is upgraded at once. The accounts are locked
(``SELECT … FOR UPDATE``, in id order) and the consumption, ledger entries, lots and level changes are written
with a few bulk inserts: 10,000 rows take seconds where the service row by row took minutes. A test holds the two
paths to the same ledger.

**Undo** cannot delete: consumption and ledger entries are append-only. It writes what a full refund of every
imported sale would write — a negative consumption dated at its sale's time (so the rolling net is as if the
import had never been) and a reversal of what is left of the points the sale earned (points that have already
expired are gone already and are not taken twice) — and puts back a level the import raised, if the member
still holds it. It is refused, with nothing written, once any sale of the batch has been refunded or any of
its points has been spent (redeemed, deducted). The sales of an undone import stay (offset); their order numbers may
be recorded again (``Consumption.order_seq``), so a corrected file can be imported again as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.audit import audit
from crm.core.imports import (
    ImportColumn,
    Importer,
    ImportRefused,
    Progress,
    Table,
    as_text,
    named_few,
    narrow,
    no_progress,
    original_values,
    read_table,
    register,
    reread_for_commit,
    save_preview,
)
from crm.core.models import AuditAction, ImportBatch, ImportStatus
from crm.core.validators import MOBILE_RE, normalize_mobile
from crm.customers.models import Customer, CustomerStatus

from . import selectors
from .models import (
    Category,
    Consumption,
    ConsumptionSource,
    EntryKind,
    LevelChange,
    LevelChangeReason,
    MemberLevel,
    PaymentMethod,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsLotUse,
)
from .services import EARLIEST, MAX_AMOUNT, earned_for, pos_order_refusal

KIND = "consumption"
LABEL = gettext_lazy("消费记录")
PERMISSION = "loyalty.import_consumption"

C = ImportColumn
COLUMNS = [
    C(
        "card_no",
        "会员卡号",
        ("卡号", "会员号", "会员卡"),
        example="JSH2026000001",
        help="会员卡号和手机号至少填写一项;都填写时须是同一位会员",
    ),
    C("mobile", "手机号", ("手机", "手机号码", "会员手机", "联系电话")),
    C("name", "会员姓名", ("姓名", "客户姓名", "客户", "会员"), example="王建华", help="可不填;填写时须与会员一致"),
    C(
        "occurred_at",
        "消费时间",
        ("消费日期", "交易时间", "结账时间", "日期", "时间"),
        required=True,
        example="2026-11-20 19:30",
        help="日期或日期加时间,如 2026-11-20 19:30;不能晚于现在",
    ),
    C(
        "amount",
        "金额",
        ("消费金额", "金额(元)", "消费金额(元)", "实收金额", "实付金额"),
        required=True,
        example="1280.00",
        help="大于 0 的金额,最多两位小数;退款请在消费记录中登记",
    ),
    C(
        "category",
        "消费类别",
        ("类别", "消费类型", "类型"),
        required=True,
        example="餐饮",
        help="餐饮 / 茶酒 / 客房 / SPA / 娱乐 / 会籍 / 其他",
    ),
    C("venue", "消费场所", ("场所", "门店", "营业点"), example="中餐厅"),
    C(
        "order_no",
        "订单号",
        ("单号", "账单号", "流水号", "订单编号"),
        example="A20261120001",
        help="同一订单号只计一次",
    ),
    C(
        "payment",
        "支付方式",
        ("付款方式", "结算方式"),
        example="刷卡",
        help="现金 / 刷卡 / 储值 / 转账 / 微信 / 支付宝 / 挂账 / 其他",
    ),
    C("note", "备注", ("说明",)),
]
TEXT_LIMITS = {"venue": 100, "order_no": 64, "note": 200}
CHUNK = 900  # values in one IN (…): SQLite allows 999 parameters in older builds
_WIDE = str.maketrans("０１２３４５６７８９．，－：／　", "0123456789.,-:/ ")
_DATETIME_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})\s*[:时点]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.\d+)?\s*秒?)?\s*分?)?$"
)
_EXCEL_EPOCH = datetime(1899, 12, 30)


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


# ---------------------------------------------------------------------------------------------------
# Cells to values
# ---------------------------------------------------------------------------------------------------


def _names(choices: Any) -> dict[str, str]:
    """A choice by its code, by its Chinese name (the file's language) and by its name in the current language,
    case aside: 餐饮, dining and Dining are the same."""
    out = {str(value).lower(): str(value) for value in choices.values}
    with translation.override("zh-hans"):
        out.update({str(label).lower(): str(value) for value, label in choices.choices})
    out.update({str(label).lower(): str(value) for value, label in choices.choices})
    return out


def _choice_labels(choices: Any) -> str:
    return "、".join(str(label) for label in choices.labels)


def as_moment(value: Any) -> datetime | None:
    """When a sale happened, from a cell: a date or datetime as the reader gives it, Excel's day number, or text
    such as 2026-11-20 19:30, 2026/11/20, 2026年11月20日 19时30分 or 20261120. A date alone is the start of that
    day. Naive values are the club's time. ``None`` for empty; ``ValueError`` when it is no moment."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time.min)
    elif isinstance(value, int | float) and not isinstance(value, bool) and 20_000 <= value < 80_000:
        moment = _EXCEL_EPOCH + timedelta(days=float(value))  # a date cell formatted as a number
        moment = moment.replace(microsecond=0)
    else:
        text = str(value).translate(_WIDE).strip()
        m = _DATETIME_RE.match(text)
        if m:
            y, mo, d, hh, mm, ss = (int(g) if g else 0 for g in m.groups())
            moment = datetime(y, mo, d, hh, mm, ss)
        elif re.fullmatch(r"\d{8}", text):
            moment = datetime(int(text[:4]), int(text[4:6]), int(text[6:]))
        elif re.fullmatch(r"\d{14}", text):
            moment = datetime.strptime(text, "%Y%m%d%H%M%S")
        else:
            raise ValueError(text)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def as_amount(value: Any) -> Decimal:
    """An amount of yuan from a cell: a number (Excel's float noise below a thousandth of a fen is rounded away)
    or text with ¥, 元, thousands separators or full-width digits. ``ValueError`` when it is no number."""
    if isinstance(value, bool):
        raise ValueError(str(value))
    if isinstance(value, float):
        amount = Decimal(repr(value))
        cents = amount.quantize(Decimal("0.01"))
        return cents if abs(amount - cents) < Decimal("0.00001") else amount
    if isinstance(value, int):
        return Decimal(value)
    text = str(value).translate(_WIDE).strip()
    text = re.sub(r"[\s,¥￥]|元$|^RMB|^CNY", "", text, flags=re.IGNORECASE)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(str(value)) from None
    if not amount.is_finite():
        raise ValueError(str(value))
    return amount


# ---------------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------------


@dataclass
class Checked:
    good: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Member:
    pk: int
    name: str
    status: str
    card_no: str
    mobile: str


class Checker:
    """Checks every row: the member (by card number or mobile, within the importer's data scope), the moment, the
    amount, the category and payment method, the lengths, and order numbers repeated in the file or recorded."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.now = timezone.now()
        self.categories = _names(Category)
        self.payments = _names(PaymentMethod)
        self.statuses = dict(CustomerStatus.choices)
        # the template's example row (it names the first card of a year, a real member), read as any row is
        self.example = self._row({c.key: c.example for c in COLUMNS if c.example})[0]

    def check(self, table: Table) -> Checked:
        rows = [(line, *self._row(values)) for line, values in table.rows]
        by_card, by_mobile = _members(self.actor, [r for _l, r, _p in rows])
        # the club's own numbers (a POS posts under its own client key)
        orders = sorted({r["order_no"] for _l, r, _p in rows if r.get("order_no")})
        recorded = selectors.recorded_orders(orders)
        posted = selectors.posted_by_pos(orders)  # and the orders a POS has sent itself
        seen: dict[str, int] = {}
        out = Checked()
        for (line, row, problems), (_line, values) in zip(rows, table.rows, strict=True):
            if row == self.example:  # left in the file, it would be a sale of the year's first member
                problems[:] = [_("这是模板中的示例行,请删除后再导入")]
            else:
                member = self._member(row, by_card, by_mobile, problems)
                if member is not None:
                    row["customer_id"], row["customer_name"] = member.pk, member.name
                order = row.get("order_no")
                row["order_seq"] = 0
                if order:
                    if order in recorded and recorded[order] is None:
                        problems.append(_("订单号「%(no)s」已经登记过,同一笔订单只计一次") % {"no": order})
                    elif order in posted:
                        problems.append(pos_order_refusal(order, posted[order][0]).rstrip("。"))
                    elif order in seen:
                        problems.append(_("订单号「%(no)s」与第 %(line)d 行重复") % {"no": order, "line": seen[order]})
                    else:
                        seen[order] = line
                        row["order_seq"] = recorded.get(order) or 0  # again, after its import was undone
            if problems:
                label = row.get("customer_name") or row.get("name") or row.get("card_no") or row.get("mobile") or ""
                out.problems.append(  # with the row as typed, for the file of the rows not imported
                    {"line": line, "name": str(label)[:50], "problems": problems, "values": original_values(values)}
                )
            else:
                out.good.append((line, row))
        return out

    def _row(self, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        problems: list[str] = []
        values = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in values.items()}  # NUL: noise
        row: dict[str, Any] = {
            "card_no": "".join(narrow(_text(values.get("card_no"))).split()).upper(),
            "mobile": normalize_mobile(narrow(_text(values.get("mobile")))),
            "name": " ".join(_text(values.get("name")).split()),
        }
        self._moment(values.get("occurred_at"), row, problems)
        self._amount(values.get("amount"), row, problems)
        self._choice("category", values.get("category"), row, problems)
        self._choice("payment", values.get("payment"), row, problems)
        if isinstance(values.get("order_no"), float):  # a whole one below 10^15 was made an integer when read
            problems.append(_("订单号被 Excel 存成了数字,可能已经失真;请把该列设为文本后重新填写"))
        for key, limit in TEXT_LIMITS.items():
            text = " ".join(_text(values.get(key)).split())
            if len(text) > limit:
                problems.append(_("%(field)s超过 %(n)d 个字") % {"field": _column(key), "n": limit})
            row[key] = text[:limit]
        return row, problems

    def _moment(self, value: Any, row: dict[str, Any], problems: list[str]) -> None:
        try:
            moment = as_moment(value)
        except (ValueError, OverflowError):
            problems.append(_("消费时间「%(v)s」不是日期或时间") % {"v": _text(value)[:30]})
            return
        if moment is None:
            problems.append(_("消费时间为空"))
        elif moment > self.now + _clock_skew():
            problems.append(_("消费时间「%(v)s」晚于现在") % {"v": _shown(moment)})
        elif moment < timezone.make_aware(EARLIEST):
            problems.append(_("消费时间「%(v)s」早于 2000 年") % {"v": _shown(moment)})
        else:
            row["occurred_at"] = moment

    def _amount(self, value: Any, row: dict[str, Any], problems: list[str]) -> None:
        if value in (None, ""):
            problems.append(_("金额为空"))
            return
        try:
            amount = as_amount(value)
        except ValueError:
            problems.append(_("金额「%(v)s」不是数字") % {"v": _text(value)[:30]})
            return
        if amount <= 0:
            problems.append(_("金额必须大于 0(退款请在消费记录中逐笔登记)"))
        elif amount > MAX_AMOUNT:
            problems.append(_("金额不能超过 %(max)s 元") % {"max": f"{MAX_AMOUNT:,.2f}"})
        elif amount != amount.quantize(Decimal("0.01")):
            problems.append(_("金额「%(v)s」超过两位小数(精确到分)") % {"v": _text(value)[:30]})
        else:
            row["amount"] = amount.quantize(Decimal("0.01"))

    def _choice(self, key: str, value: Any, row: dict[str, Any], problems: list[str]) -> None:
        text = " ".join(_text(value).split())
        choices, names = (Category, self.categories) if key == "category" else (PaymentMethod, self.payments)
        row[key] = ""
        if not text:
            if key == "category":
                problems.append(_("消费类别为空"))
            return
        found = names.get(text.lower())
        if found is None:
            problems.append(
                _("未知的%(field)s「%(v)s」(可选:%(labels)s)")
                % {"field": _column(key), "v": text[:20], "labels": _choice_labels(choices)}
            )
            return
        row[key] = found

    def _member(
        self,
        row: dict[str, Any],
        by_card: dict[str, _Member],
        by_mobile: dict[str, list[_Member]],
        problems: list[str],
    ) -> _Member | None:
        card, mobile = row["card_no"], row["mobile"]
        if not card and not mobile:
            problems.append(_("会员卡号和手机号至少填写一项"))
            return None
        member = None
        if card:
            member = by_card.get(card)
            if member is None:
                problems.append(_("找不到会员卡号为「%(v)s」的会员,或不在您的数据权限范围内") % {"v": card[:30]})
                return None
        if mobile:
            matches = by_mobile.get(mobile, [])
            if member is not None:
                # both given: they must name one member (a mobile of nobody's, or mistyped, is no confirmation)
                if not MOBILE_RE.match(mobile):
                    problems.append(_("手机号「%(v)s」格式不对") % {"v": mobile[:20]})
                    return None
                if member.mobile != mobile:
                    problems.append(
                        _("会员卡号「%(card)s」与手机号「%(mobile)s」不是同一位会员") % {"card": card, "mobile": mobile}
                    )
                    return None
            elif not matches:
                problems.append(_("找不到手机号为「%(v)s」的会员,或不在您的数据权限范围内") % {"v": mobile[:20]})
                return None
            elif len(matches) > 1:
                problems.append(_("手机号「%(v)s」对应多位会员,请填写会员卡号") % {"v": mobile})
                return None
            else:
                member = matches[0]
        assert member is not None
        if member.status not in selectors.MEMBER_STATUSES:
            problems.append(
                _("「%(name)s」现在是「%(status)s」,还不是会员")
                % {"name": member.name, "status": self.statuses.get(member.status, member.status)}
            )
            return None
        if row["name"] and row["name"].replace(" ", "") != member.name.replace(" ", ""):
            problems.append(
                _("会员是「%(member)s」,与姓名「%(name)s」不符") % {"member": member.name, "name": row["name"][:20]}
            )
            return None
        return member


def _text(value: Any) -> str:
    """A cell as text, without the NUL characters a database would refuse."""
    return as_text(value).replace("\x00", "")


def _clock_skew() -> timedelta:
    return settings.CRM_FOLLOWUP_CLOCK_SKEW


def _shown(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _column(key: str) -> str:
    return next((c.label for c in COLUMNS if c.key == key), key)


def _members(actor: Any, rows: list[dict[str, Any]]) -> tuple[dict[str, _Member], dict[str, list[_Member]]]:
    """The customers the file names by card number or mobile, among those ``actor`` may reach (merged records
    aside): two queries per thousand values, not one per row."""
    scoped = Customer.objects.for_user(actor).exclude(status=CustomerStatus.MERGED)
    fields = ("id", "name", "status", "card_no", "mobile")
    by_card: dict[str, _Member] = {}
    by_mobile: dict[str, list[_Member]] = {}
    cards = sorted({r["card_no"] for r in rows if r["card_no"]})
    for chunk in _chunks(cards):
        for pk, name, status, card_no, mobile in scoped.filter(card_no__in=chunk).values_list(*fields):
            by_card[str(card_no).upper()] = _Member(pk, name, status, card_no or "", mobile or "")
    mobiles = sorted({r["mobile"] for r in rows if r["mobile"]})
    for chunk in _chunks(mobiles):
        for pk, name, status, card_no, mobile in scoped.filter(mobile__in=chunk).values_list(*fields):
            by_mobile.setdefault(mobile, []).append(_Member(pk, name, status, card_no or "", mobile or ""))
    for found in by_mobile.values():  # a member before a registration under review with the same mobile
        members = [m for m in found if m.status in selectors.MEMBER_STATUSES]
        if members:
            found[:] = members
    return by_card, by_mobile


# ---------------------------------------------------------------------------------------------------
# Preview, commit, undo
# ---------------------------------------------------------------------------------------------------


def preview(*, actor: Any, data: bytes, filename: str) -> ImportBatch:
    """Read and check the whole file; nothing is imported yet. Raises ImportFileError for a file that cannot be
    read at all."""
    table = read_table(data, filename, COLUMNS)
    checked = Checker(actor).check(table)
    return save_preview(
        kind=KIND,
        actor=actor,
        data=data,
        filename=filename,
        total=len(table.rows),
        good=len(checked.good),
        problems=checked.problems,
        unused=table.unused,
        notices=table.notices,
    )


@dataclass
class Written:
    rows: int = 0
    amount: Decimal = Decimal("0.00")
    points: int = 0
    upgrades: int = 0


def commit(*, actor: Any, batch: ImportBatch, request: Any = None, progress: Progress = no_progress) -> ImportBatch:
    """Import the good rows of a previewed batch in one transaction. The file is checked again first: what
    changed since the preview (an order recorded meanwhile, a member handed to someone else) is caught and
    skipped with its reason."""
    with transaction.atomic():
        if batch.kind != KIND:
            raise ImportRefused(_("找不到这次导入,请重新上传文件。"))
        batch, table = reread_for_commit(actor=actor, batch=batch, columns=COLUMNS, progress=progress)
        progress("check", 0, len(table.rows))
        checked = Checker(actor).check(table)
        progress("write", 0, len(checked.good))
        try:
            with transaction.atomic():
                written = _write(actor, batch, checked.good)
        except IntegrityError as exc:  # an order number recorded by someone else between the check and the write
            if "order" not in str(exc):
                raise
            raise ImportRefused(_("有订单号刚刚被其他人登记,请重新确认导入。")) from None
        progress("save")
        batch.status, batch.committed_at = ImportStatus.COMMITTED, timezone.now()
        batch.total, batch.imported, batch.skipped = len(table.rows), written.rows, len(checked.problems)
        batch.problems, batch.data = checked.problems, None
        batch.save()
        audit(
            actor=actor,
            action=AuditAction.CREATE,
            obj=batch,
            object_repr=_("导入%(kind)s:%(file)s") % {"kind": LABEL, "file": batch.filename},
            changes={
                "imported": written.rows,
                "skipped": batch.skipped,
                "amount": str(written.amount),
                "points": written.points,
                "upgrades": written.upgrades,
            },
            request=request,
        )
    return batch


def _members_named(qs: QuerySet[Any], member: str) -> str:
    """The members (``member`` is the path to the customer) a refusal is about, named by ``named_few``; empty
    when there are none."""
    rows = list(qs.order_by(f"{member}__name", member).values_list(member, f"{member}__name").distinct()[:4])
    if not rows:
        return ""
    total = len(rows) if len(rows) <= 3 else qs.values(member).distinct().count()
    return named_few([n for _pk, n in rows], total, str(_("位会员")))


def undo(*, actor: Any, batch: ImportBatch, request: Any = None, progress: Progress = no_progress) -> int:
    """Offset every sale of a committed import (see the module's docstring), as long as none of them has been
    refunded and none of their points spent. Returns the number of sales offset."""
    progress("undo")
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        _own(actor, batch, _("只有导入人可以撤销这次导入。"), superuser_too=True)
        if batch.status != ImportStatus.COMMITTED:
            raise ImportRefused(_("这次导入是「%(s)s」,不能撤销。") % {"s": batch.get_status_display()})
        sales = list(Consumption.objects.filter(import_batch=batch, refund_of__isnull=True).order_by("pk"))
        accounts = _lock_accounts(sorted({s.customer_id for s in sales}))
        refunded = _members_named(Consumption.objects.filter(refund_of__import_batch=batch), "customer")
        if refunded:
            raise ImportRefused(
                _("这次导入的消费已有退款(%(members)s),不能整批撤销;请在消费记录中逐笔退款。") % {"members": refunded}
            )
        used = PointsLotUse.objects.filter(lot__entry__consumption__import_batch=batch, lot__entry__kind=EntryKind.EARN)
        spent = _members_named(used.exclude(entry__kind=EntryKind.EXPIRE), "lot__account__customer")
        if spent:
            raise ImportRefused(
                _("这次导入所得的积分已有被兑换或扣减的(%(members)s),不能整批撤销;请在消费记录中逐笔退款。")
                % {"members": spent}
            )
        n = _offset(actor, batch, sales, accounts)
        batch.status, batch.undone_at = ImportStatus.UNDONE, timezone.now()
        batch.save(update_fields=["status", "undone_at"])
        audit(
            actor=actor,
            action=AuditAction.DELETE,
            obj=batch,
            object_repr=_("撤销导入%(kind)s:%(file)s") % {"kind": LABEL, "file": batch.filename},
            changes={"offset": n},
            request=request,
        )
    return n


def _own(actor: Any, batch: ImportBatch, refusal: str, *, superuser_too: bool = False) -> None:
    """A consumption import of ``actor``'s (or, with ``superuser_too``, any one for a superuser)."""
    if batch.kind != KIND:
        raise ImportRefused(_("找不到这次导入,请重新上传文件。"))
    if batch.created_by_id != actor.pk and not (superuser_too and actor.is_superuser):
        raise ImportRefused(refusal)


# ---------------------------------------------------------------------------------------------------
# Writing: the earning rule for a whole batch
# ---------------------------------------------------------------------------------------------------


def _lock_accounts(customer_ids: list[int]) -> dict[int, PointsAccount]:
    """The points accounts of these customers, locked until the commit, by customer; in account-id order, so that
    two imports touching the same members wait for each other instead of deadlocking."""
    ids: list[int] = []
    for chunk in _chunks(customer_ids):
        ids += PointsAccount.objects.filter(customer_id__in=chunk).values_list("id", flat=True)
    accounts: dict[int, PointsAccount] = {}
    for chunk in _chunks(sorted(ids)):
        for account in PointsAccount.objects.select_for_update().filter(pk__in=chunk).order_by("pk"):
            accounts[account.customer_id] = account
    return accounts


def _open_accounts(customer_ids: list[int], lowest: MemberLevel, now: datetime) -> dict[int, PointsAccount]:
    """Lock the members' accounts, opening the missing ones at the lowest level first."""
    have: set[int] = set()
    for chunk in _chunks(customer_ids):
        have.update(PointsAccount.objects.filter(customer_id__in=chunk).values_list("customer_id", flat=True))
    missing = [c for c in customer_ids if c not in have]
    PointsAccount.objects.bulk_create(
        [PointsAccount(customer_id=c, level=lowest, level_since=now, created_at=now, updated_at=now) for c in missing],
        batch_size=1000,
        ignore_conflicts=True,  # opened meanwhile by a sale: use it
    )
    return _lock_accounts(customer_ids)


def _nets(customer_ids: list[int], start: datetime) -> dict[int, Decimal]:
    """Net consumption since ``start`` per customer (the rolling window of the level rule)."""
    out: dict[int, Decimal] = {}
    for chunk in _chunks(customer_ids):
        rows = (
            Consumption.objects.filter(customer_id__in=chunk, occurred_at__gt=start)
            .values("customer_id")
            .annotate(s=Sum("amount"))
            .order_by()
        )
        out.update({row["customer_id"]: row["s"] for row in rows})
    return out


def _update(model: type[models.Model], names: list[str], objs: list[Any]) -> None:
    """Write ``names`` of ``objs`` back, one UPDATE by primary key run for all of them at once (``bulk_update``
    builds a CASE over hundreds of rows per statement, several times slower)."""
    if not objs:
        return
    fields = [model._meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(str(f.column))} = %s" for f in fields)  # type: ignore[union-attr]
    sql = f"UPDATE {qn(model._meta.db_table)} SET {assignments} WHERE {qn(str(model._meta.pk.column))} = %s"  # noqa: S608
    attnames = [str(f.attname) for f in fields]  # type: ignore[union-attr]
    preps = [f.get_db_prep_save for f in fields]  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [[prep(getattr(o, a), connection) for prep, a in zip(preps, attnames, strict=True)] + [o.pk] for o in objs],
        )


def _write(actor: Any, batch: ImportBatch, rows: list[tuple[int, dict[str, Any]]]) -> Written:
    """Record the checked rows as ``services.consumption_record`` would, one after the other in the order the
    sales happened (the file's order among equal times), with a few bulk inserts."""
    written = Written()
    if not rows:
        return written
    now = timezone.now()
    rules = selectors.loyalty_settings()
    ladder = selectors.levels()
    levels = {lv.pk: lv for lv in ladder}
    customer_ids = sorted({row["customer_id"] for _line, row in rows})
    accounts = _open_accounts(customer_ids, ladder[0], now)
    start = selectors.window_start(now, rules.window_months)
    nets = _nets(customer_ids, start)
    balance = {cid: a.balance for cid, a in accounts.items()}
    level = {cid: levels[a.level_id] for cid, a in accounts.items()}
    operator = actor if getattr(actor, "is_authenticated", False) else None
    reasons = {str(value): str(label) for value, label in Category.choices}  # what the service writes as the reason

    sales: list[Consumption] = []
    earns: list[tuple[Consumption, PointsEntry, PointsLot]] = []
    changes: list[tuple[Consumption, LevelChange]] = []
    for _line, row in sorted(rows, key=lambda lr: (lr[1]["occurred_at"], lr[0])):
        cid = row["customer_id"]
        account = accounts[cid]
        sale = Consumption(
            customer_id=cid,
            occurred_at=row["occurred_at"],
            amount=row["amount"],
            category=row["category"],
            venue=row["venue"],
            order_no=row["order_no"],
            order_seq=row["order_seq"],
            payment=row["payment"],
            source=ConsumptionSource.IMPORT,
            note=row["note"],
            operator=operator,
            created_at=now,
            import_batch=batch,
        )
        sales.append(sale)
        written.rows += 1
        written.amount += sale.amount
        points = earned_for(sale.amount, level[cid], rules.rounding)
        if points > 0:
            balance[cid] += points
            entry = PointsEntry(
                account=account,
                kind=EntryKind.EARN,
                points=points,
                balance_after=balance[cid],
                reason=reasons[sale.category],
                created_by=operator,
                created_at=now,
            )
            lot = PointsLot(
                account=account,
                points=points,
                remaining=points,
                expires_on=selectors.expiry_date(timezone.localdate(sale.occurred_at), rules.expiry_months),
            )
            earns.append((sale, entry, lot))
            written.points += points
        if sale.occurred_at > start:
            nets[cid] = nets.get(cid, Decimal("0.00")) + sale.amount
        target = selectors.qualifying_level(nets.get(cid, Decimal("0.00")), ladder)
        if target.rank > level[cid].rank:
            change = LevelChange(
                account=account,
                from_level=level[cid],
                to_level=target,
                reason=LevelChangeReason.UPGRADE,
                net_amount=nets[cid],
                actor=operator,
                at=now,
            )
            changes.append((sale, change))
            level[cid] = target
            written.upgrades += 1

    Consumption.objects.bulk_create(sales, batch_size=1000)
    for sale, entry, _lot in earns:
        entry.consumption_id = sale.pk
    PointsEntry.objects.bulk_create([entry for _s, entry, _l in earns], batch_size=1000)
    for _sale, entry, lot in earns:
        lot.entry_id = entry.pk
    PointsLot.objects.bulk_create([lot for _s, _e, lot in earns], batch_size=1000)
    for sale, change in changes:
        change.consumption_id = sale.pk
    LevelChange.objects.bulk_create([change for _s, change in changes], batch_size=1000)
    moved = []
    for cid, account in accounts.items():
        if balance[cid] != account.balance or level[cid].pk != account.level_id:
            if level[cid].pk != account.level_id:
                account.level_since = now
            account.balance, account.level, account.updated_at = balance[cid], level[cid], now
            moved.append(account)
    _update(PointsAccount, ["balance", "level", "level_since", "updated_at"], moved)
    return written


def _offset(actor: Any, batch: ImportBatch, sales: list[Consumption], accounts: dict[int, PointsAccount]) -> int:
    """Write the refund of every sale of the batch and the reversal of what is left of its points; put back the
    level the batch raised where the member still holds it. The accounts are locked."""
    now = timezone.now()
    operator = actor if getattr(actor, "is_authenticated", False) else None
    why = _("撤销导入「%(file)s」") % {"file": batch.filename}
    balance = {cid: a.balance for cid, a in accounts.items()}
    lots = {
        lot.entry.consumption_id: lot
        for lot in PointsLot.objects.filter(entry__consumption__import_batch=batch, entry__kind=EntryKind.EARN)
        .select_related("entry")
        .order_by("pk")
    }
    refunds: list[Consumption] = []
    reversals: list[tuple[Consumption, PointsEntry, PointsLot, int]] = []
    for sale in sales:
        refund = Consumption(
            customer_id=sale.customer_id,
            occurred_at=sale.occurred_at,  # the rolling net is as if the sale had never been
            amount=-sale.amount,
            category=sale.category,
            venue=sale.venue,
            payment=sale.payment,
            source=ConsumptionSource.IMPORT,
            refund_of=sale,
            note=why[:200],
            operator=operator,
            created_at=now,
            import_batch=batch,
        )
        refunds.append(refund)
        lot = lots.get(sale.pk)
        if lot is None or lot.remaining <= 0:
            continue  # it earned nothing, or its points have expired already
        account = accounts[sale.customer_id]
        balance[sale.customer_id] -= lot.remaining
        entry = PointsEntry(
            account=account,
            kind=EntryKind.REVERSAL,
            points=-lot.remaining,
            balance_after=balance[sale.customer_id],
            reverses=lot.entry,
            reason=why[:200],
            created_by=operator,
            created_at=now,
        )
        reversals.append((refund, entry, lot, lot.remaining))
    Consumption.objects.bulk_create(refunds, batch_size=1000)
    for refund, entry, _lot, _n in reversals:
        entry.consumption_id = refund.pk
    PointsEntry.objects.bulk_create([entry for _r, entry, _l, _n in reversals], batch_size=1000)
    PointsLotUse.objects.bulk_create(
        [PointsLotUse(lot=lot, entry=entry, points=n) for _r, entry, lot, n in reversals], batch_size=1000
    )
    for _r, _e, lot, _n in reversals:
        lot.remaining = 0
    _update(PointsLot, ["remaining"], [lot for _r, _e, lot, _n in reversals])
    moved = [a for cid, a in accounts.items() if balance[cid] != a.balance]
    for account in moved:
        account.balance, account.updated_at = balance[account.customer_id], now
    _update(PointsAccount, ["balance", "updated_at"], moved)
    _restore_levels(batch, accounts, why, operator, now)
    return len(refunds)


def _restore_levels(
    batch: ImportBatch, accounts: dict[int, PointsAccount], why: str, operator: Any, now: datetime
) -> None:
    """A member the batch upgraded, and whose level nothing has changed since, gets back the level held before
    the import — or the one the net consumption without it still reaches, if that is higher."""
    raised = LevelChange.objects.filter(consumption__import_batch=batch).order_by("at", "id")
    first: dict[int, LevelChange] = {}
    ids: set[int] = set()
    for change in raised.select_related("from_level"):
        first.setdefault(change.account_id, change)
        ids.add(change.pk)
    if not first:
        return
    latest = dict(
        LevelChange.objects.filter(account_id__in=list(first))
        .values("account_id")
        .annotate(last=Max("id"))
        .values_list("account_id", "last")
        .order_by()
    )
    rules = selectors.loyalty_settings()
    ladder = selectors.levels()
    by_account = {a.pk: a for a in accounts.values()}
    customer_ids = sorted(by_account[pk].customer_id for pk in first if pk in by_account)
    nets = _nets(customer_ids, selectors.window_start(now, rules.window_months))
    restored: list[LevelChange] = []
    moved: list[PointsAccount] = []
    for account_id, change in first.items():
        account = by_account.get(account_id)
        if account is None or latest.get(account_id) not in ids:
            continue  # changed since (a review, a hand setting, another sale): the next yearly review settles it
        net = nets.get(account.customer_id, Decimal("0.00"))
        before = change.from_level or ladder[0]
        reached = selectors.qualifying_level(net, ladder)
        target = reached if reached.rank > before.rank else before
        if target.pk == account.level_id:
            continue
        restored.append(
            LevelChange(
                account=account,
                from_level_id=account.level_id,
                to_level=target,
                reason=LevelChangeReason.MANUAL,
                net_amount=net,
                note=why[:200],
                actor=operator,
                at=now,
            )
        )
        account.level, account.level_since, account.updated_at = target, now, now
        moved.append(account)
    LevelChange.objects.bulk_create(restored)
    _update(PointsAccount, ["level", "level_since", "updated_at"], moved)


# ---------------------------------------------------------------------------------------------------
# The import page (crm.core.views_import)
# ---------------------------------------------------------------------------------------------------

register(
    Importer(
        key=KIND,
        label=LABEL,
        permission=PERMISSION,
        columns=COLUMNS,
        preview=preview,
        commit=commit,
        undo=undo,
        name_label=gettext_lazy("会员"),
        notes=(
            gettext_lazy(
                "每一行按会员当时的等级计算积分并即时升级,和手工录入一样。撤销导入会为每笔消费登记一笔冲销退款并扣回所得积分;"
                "已有退款或积分已被使用的导入不能撤销。"
            ),
        ),
        template_notes=(
            gettext_lazy("会员卡号和手机号至少填写一项;只能导入您的数据权限范围内的会员。"),
            gettext_lazy("消费类别填写:餐饮、茶酒、客房、SPA、娱乐、会籍、其他。"),
            gettext_lazy("消费时间可以是日期或日期加时间(如 2026-11-20 19:30),不能晚于现在。"),
            gettext_lazy("金额须大于 0,最多两位小数;退款请在消费记录中逐笔登记。同一订单号只计一次。"),
            gettext_lazy("会员卡号、订单号请设为文本格式,以免被 Excel 改成科学计数法。"),
            gettext_lazy("文件可以是 .xlsx、.xls 或 .csv(UTF-8 或 GBK 编码);表头上方可以有标题行。"),
        ),
        undo_confirm=gettext_lazy("撤销会为这次导入的每笔消费登记冲销退款并扣回积分,确定吗?"),
        undone=gettext_lazy("已撤销这次导入:%(n)s 条消费已冲销,所得积分已扣回。"),
    )
)
