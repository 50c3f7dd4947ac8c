"""【导入】 of leads and customers: the columns, the check of every row, the commit in one transaction, undo.

Checking reads the database once per kind of fact (dictionaries, people, existing mobiles and ID numbers),
not once per row. Writing uses PostgreSQL's COPY (or ``bulk_create`` elsewhere) inside one transaction, so
an import is all or nothing, and fast: see docs/performance.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import F, ProtectedError, Q, RestrictedError
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.accounts.models import User
from crm.core.audit import audit
from crm.core.imports import (
    ImportColumn,
    Importer,
    ImportRefused,
    Progress,
    Table,
    as_date,
    as_text,
    fold,
    named_few,
    narrow,
    no_progress,
    original_values,
    read_table,
    register,
    reread_for_commit,
    save_preview,
)
from crm.core.models import AuditAction, DictItem, ImportBatch, ImportStatus
from crm.core.textsearch import search_keys
from crm.core.validators import normalize_mobile, validate_id_number, validate_mobile

from .models import Counter, Customer, CustomerStatus, FollowUp, Handover, Lead, LeadStatus
from .selectors import Duplicate

C = ImportColumn
LEAD_COLUMNS = [
    C("name", "姓名", ("客户姓名", "名字"), required=True, example="王建华"),
    C("gender", "性别", example="男", help="男 / 女"),
    C("mobile", "手机号", ("手机", "手机号码", "移动电话", "联系电话"), required=True, example="13912345678"),
    C("company", "公司", ("工作单位", "单位", "公司名称")),
    C("title", "职位", ("职务",)),
    C("source", "客户来源", ("来源", "进店渠道"), example="转介绍"),
    C("intent", "意向等级", ("意向",), example="中"),
    C("owner", "负责人", ("跟进人", "负责员工", "业务员"), help="姓名或登录名;不填则为导入人"),
    C("note", "备注"),
]
CUSTOMER_COLUMNS = [
    C("name", "姓名", ("客户姓名", "名字"), required=True, example="王建华"),
    C("gender", "性别", example="男", help="男 / 女"),
    C("birthday", "生日", ("出生日期", "公历生日"), example="1975-06-18"),
    C("mobile", "手机号", ("手机", "手机号码", "移动电话", "联系电话"), example="13912345678"),
    C("id_number", "身份证号", ("身份证", "身份证号码", "证件号码"), example="110101197506180010"),
    C("card_no", "会员卡号", ("卡号",), help="不填则按规则自动生成"),
    C("level", "客户级别", ("级别",)),
    C("company", "公司", ("工作单位", "单位", "公司名称")),
    C("title", "职位", ("职务", "职业")),
    C("industry", "行业", ("客户行业",)),
    C("income_band", "年收入", ("年收入区间",)),
    C("address", "地址", ("家庭住址", "联系地址")),
    C("source", "客户来源", ("来源", "进店渠道"), example="转介绍"),
    C("broker_name", "推荐居间商", ("居间商", "推荐人")),
    C("owner", "负责人", ("跟进人", "负责员工", "业务员"), help="姓名或登录名;不填则为导入人"),
    C("sms_consent", "接收营销短信", ("营销短信", "营销类通知"), example="是", help="是 / 否"),
    C("note", "备注"),
]
DICTS = {
    "source": "customer_source",
    "intent": "intent_level",
    "level": "customer_level",
    "industry": "industry",
    "income_band": "income_band",
}
YES = {"是", "y", "yes", "1", "true", "√", "同意"}
NO = {"否", "n", "no", "0", "false", "×", "不同意", ""}
YES_OR_NO = YES | NO
CARD_RE = re.compile(r"[A-Z0-9\-]{1,30}")
PROGRESS_EVERY = 10_000  # rows between two reports of a background import's progress

GENDER = {"男": "M", "女": "F", "m": "M", "f": "F", "": ""}
TEXT_LIMITS = {"name": 50, "company": 100, "title": 50, "address": 200, "broker_name": 100, "note": 2000}


@dataclass(frozen=True)
class ImportKind:
    key: str
    label: Any
    model: type[Lead] | type[Customer]
    columns: list[ImportColumn]
    permission: str


KINDS = {
    "lead": ImportKind("lead", gettext_lazy("潜在客户"), Lead, LEAD_COLUMNS, "customers.import_lead"),
    "customer": ImportKind("customer", gettext_lazy("客户"), Customer, CUSTOMER_COLUMNS, "customers.import_customer"),
}


@dataclass
class Checked:
    good: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _duplicates(
    row: dict[str, Any],
    line: int,
    taken: dict[tuple[str, str], str],
    seen: dict[tuple[str, str], int],
    problems: list[str],
) -> None:
    """A mobile, ID or card number held by a record already (``taken``) or by an earlier row of the file."""
    for key in ("mobile", "id_number", "card_no"):
        value = row.get(key)
        if not value:
            continue
        if (key, value) in taken:
            problems.append(taken[(key, value)])
        elif (key, value) in seen:
            problems.append(_("%(field)s与第 %(line)d 行重复") % {"field": _LABELS[key](), "line": seen[(key, value)]})
        else:
            seen[(key, value)] = line


class Checker:
    """Checks every row of a table for one importer: formats, dictionaries, owners, duplicates."""

    def __init__(self, kind: ImportKind, actor: Any) -> None:
        self.kind, self.actor = kind, actor
        self.dicts: dict[str, dict[str, int]] = {}  # by label and by code, folded (``fold``)
        self.dict_labels: dict[str, str] = {}
        for key, code in DICTS.items():
            items = DictItem.objects.filter(dict_type__code=code, is_active=True).values_list("id", "label", "code")
            self.dicts[key] = {**{fold(c): i for i, _l, c in items}, **{fold(lbl): i for i, lbl, _c in items}}
            self.dict_labels[key] = "、".join(list(dict.fromkeys(lbl for _i, lbl, _c in items))[:12])
        self.people, self.namesakes = _people()
        self.by_login: list[tuple[dict[str, Any], str]] = []  # rows whose 负责人 is a login name and others' name
        self.grant = actor.data_grant("change", fresh=True)
        self.today = timezone.localdate()
        keys = {c.key for c in kind.columns}
        self.text_keys = [(k, limit) for k, limit in TEXT_LIMITS.items() if k in keys]
        self.dict_keys = [k for k in DICTS if k in keys]
        self.example = {c.key: c.example for c in kind.columns if c.example}  # the template's example row

    def _is_example(self, values: dict[str, Any]) -> bool:
        """The template's example row left in the file: imported, it would be a customer nobody registered."""
        if as_text(values.get("name")) != self.example.get("name"):
            return False
        return all(as_text(values.get(k)) == v for k, v in self.example.items())

    def check(self, table: Table, progress: Progress = no_progress) -> Checked:
        out = Checked()
        rows = []
        total = len(table.rows)
        for i, (line, values) in enumerate(table.rows):
            if not i % PROGRESS_EVERY:
                progress("check", i, total)
            rows.append((line, self._row(values)))
        taken = _existing(self.kind, [r for _l, (r, _p) in rows], self.actor)
        seen: dict[tuple[str, str], int] = {}
        for (line, (row, problems)), (_line, values) in zip(rows, table.rows, strict=True):
            if self._is_example(values):
                problems[:] = [_("这是模板中的示例行,请删除后再导入")]
            else:
                _duplicates(row, line, taken, seen, problems)
            if problems:  # the row as typed, for the file of the rows not imported (``problems_xlsx``)
                name = as_text(row.get("name"))[:50]
                out.problems.append(
                    {"line": line, "name": name, "problems": problems, "values": original_values(values)}
                )
            else:
                out.good.append((line, row))
        imported = {id(row) for _line, row in out.good}  # a refused row goes to nobody: no notice for it
        counts: dict[str, int] = {}
        for row, text in self.by_login:
            if id(row) in imported:
                counts[text] = counts.get(text, 0) + 1
        out.notices = [self._namesake_notice(text, n) for text, n in counts.items()]
        return out

    def _namesake_notice(self, text: str, rows: int) -> str:
        """「张伟」 in the 负责人 column goes to the person who logs in as 张伟; say so when others are named 张伟 too,
        and how to name them instead."""
        owner = self.people[text][0]
        others = "、".join(
            _("%(dept)s的「%(login)s」") % {"dept": _department(u), "login": u.username} for u in self.namesakes[text]
        )
        text = owner.username
        return _(
            "负责人填「%(v)s」的 %(n)d 行按登录名给了%(dept)s的%(v)s;同名的还有%(others)s。"
            "如果这些行指的是后者,请把负责人改成其登录名后重新上传。"
        ) % {"v": text, "n": rows, "dept": _department(owner), "others": others}

    def _row(self, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        problems: list[str] = []
        row: dict[str, Any] = {}
        for key, limit in self.text_keys:
            text = " ".join(as_text(values.get(key)).split())
            if len(text) > limit:
                problems.append(_("%(field)s超过 %(n)d 个字") % {"field": _column(self.kind, key), "n": limit})
            row[key] = text[:limit]
        if not row["name"]:
            problems.append(_("姓名为空"))
        gender = as_text(values.get("gender")).lower()
        if gender not in GENDER:
            problems.append(_("性别应为「男」或「女」"))
        row["gender"] = GENDER.get(gender, "")
        self._mobile(values, row, problems)
        if self.kind.key == "customer":
            self._customer_fields(values, row, problems)
        for key in self.dict_keys:
            self._dict(key, values.get(key), row, problems)
        self._owner(values.get("owner"), row, problems)
        return row, problems

    def _mobile(self, values: dict[str, Any], row: dict[str, Any], problems: list[str]) -> None:
        mobile = normalize_mobile(narrow(as_text(values.get("mobile"))))
        row["mobile"] = mobile
        if mobile:
            try:
                validate_mobile(mobile)
            except ValidationError:
                problems.append(_("手机号「%(v)s」格式不对") % {"v": mobile[:20]})
        elif self.kind.key == "lead":
            problems.append(_("手机号为空"))

    def _customer_fields(self, values: dict[str, Any], row: dict[str, Any], problems: list[str]) -> None:
        raw_id = values.get("id_number")
        given = raw_id not in ("", None)
        if isinstance(raw_id, int | float) and len(str(raw_id)) >= 15:
            problems.append(_("身份证号被 Excel 存成了数字,末几位已丢失;请把该列设为文本后重新填写"))
            raw_id = ""
        id_number = "".join(narrow(as_text(raw_id)).split()).upper()
        row["id_number"] = id_number
        if id_number:
            try:
                validate_id_number(id_number)
            except ValidationError as exc:
                problems.append(" ".join(exc.messages).rstrip("。"))
        if not row["mobile"] and not given:
            problems.append(_("手机号和身份证号至少填写一项"))
        try:
            birthday = as_date(values.get("birthday"))
        except ValueError:
            problems.append(_("生日「%(v)s」不是日期") % {"v": as_text(values.get("birthday"))[:20]})
            birthday = None
        if birthday and birthday > self.today:
            problems.append(_("生日晚于今天"))
        row["birthday"] = birthday
        card = "".join(narrow(as_text(values.get("card_no"))).split()).upper()
        if card and not CARD_RE.fullmatch(card):
            problems.append(_("会员卡号只能由字母、数字和 - 组成"))
        row["card_no"] = card or None
        consent = as_text(values.get("sms_consent")).lower()
        if consent not in YES_OR_NO:
            problems.append(_("接收营销短信应填「是」或「否」"))
        row["sms_consent"] = consent in YES

    def _dict(self, key: str, value: Any, row: dict[str, Any], problems: list[str]) -> None:
        text = as_text(value)
        row[f"{key}_id"] = None
        if not text:
            return
        found = self.dicts[key].get(fold(text))
        if found is None:
            labels = self.dict_labels[key]
            problems.append(
                _("未知的%(field)s「%(v)s」(可选:%(labels)s)")
                % {"field": _column(self.kind, key), "v": text[:20], "labels": labels}
            )
        row[f"{key}_id"] = found

    def _owner(self, value: Any, row: dict[str, Any], problems: list[str]) -> None:
        text = as_text(value)
        if not text:
            owner = self.actor
        else:
            key = fold(text)  # 张伟（销售二组）, as an input method types it, is 张伟(销售二组)
            matches = self.people.get(key, [])
            if not matches:
                problems.append(_("负责人「%(v)s」不是在职员工") % {"v": text[:20]})
                return
            if len(matches) > 1:
                logins = "、".join(u.username for u in matches)
                problems.append(_("负责人「%(v)s」有重名,请填写登录名(%(logins)s)") % {"v": text, "logins": logins})
                return
            owner = matches[0]
        if not self._reaches(owner):
            # as written (a login name such as 张伟(销售二组) tells apart two people of one name)
            refusal = _("负责人「%(v)s」不在您的数据权限范围内") % {"v": text[:30] or owner.full_name}
            mine = [u.username for u in self.namesakes.get(fold(text), []) if self._reaches(u)]
            if mine:  # 「张伟」 is the login of the one out of reach; the one meant may be his namesake within it
                refusal += _(";您范围内同名的是「%(logins)s」,请填写其登录名") % {"logins": "」「".join(mine)}
            problems.append(refusal)
            return
        if text and fold(text) in self.namesakes:
            self.by_login.append((row, fold(text)))
        row["owner_id"], row["department_id"] = owner.pk, owner.department_id

    def _reaches(self, person: User) -> bool:
        g = self.grant
        return bool(g.all or person.pk in g.user_ids or person.department_id in g.department_ids)


_LABELS = {
    "mobile": lambda: _("手机号"),
    "id_number": lambda: _("身份证号"),
    "card_no": lambda: _("会员卡号"),
}


def _column(kind: ImportKind, key: str) -> str:
    return next((c.label for c in kind.columns if c.key == key), key)


def _people() -> tuple[dict[str, list[User]], dict[str, list[User]]]:
    """Active people by login name and by full name, and the login names that are other people's full names
    too, with those people. A login name is exact: 「张伟」 is the one who logs in as 张伟, even when a
    namesake's full name is 张伟 too (the login page reads it the same way); the check says so in a notice."""
    users = list(
        User.objects.filter(is_active=True)
        .select_related("department")
        .only("id", "username", "full_name", "department_id", "department__name")
        .order_by("username")
    )
    out: dict[str, list[User]] = {}
    for u in users:
        if fold(u.full_name) != fold(u.username):
            out.setdefault(fold(u.full_name), []).append(u)
    namesakes = {fold(u.username): out[fold(u.username)] for u in users if fold(u.username) in out}
    for u in users:
        out[fold(u.username)] = [u]
    return out, namesakes


def _department(user: User) -> str:
    return user.department.name if user.department else _("未分配部门")


def _matching(qs: models.QuerySet, column: str, values: list[str]) -> Iterator[models.QuerySet]:
    """``qs`` restricted to rows whose ``column`` is one of ``values``, in as few queries as the database
    allows: one ``= ANY(array)`` on PostgreSQL (a 2,000-placeholder IN costs more to build than to run),
    chunks of IN elsewhere."""
    if not values:
        return
    if connection.vendor == "postgresql":
        field = qs.model._meta.get_field(column)
        qn = connection.ops.quote_name
        sql = f"{qn(qs.model._meta.db_table)}.{qn(str(field.column))} = ANY(%s)"
        yield qs.filter(RawSQL(sql, (values,), output_field=models.BooleanField()))  # noqa: S611 - names quoted, values bound
        return
    for i in range(0, len(values), 900):
        yield qs.filter(**{f"{column}__in": values[i : i + 900]})


def _existing(kind: ImportKind, rows: list[dict[str, Any]], viewer: Any) -> dict[tuple[str, str], str]:
    """The file's mobiles, ID numbers and card numbers already held by a lead or customer, with a sentence
    naming the record and its owner (masked as the viewer's role requires)."""
    out: dict[tuple[str, str], str] = {}
    mobiles = sorted({r["mobile"] for r in rows if r.get("mobile")})
    ids = sorted({r["id_number"] for r in rows if r.get("id_number")})
    cards = sorted({r["card_no"] for r in rows if r.get("card_no")})
    for leads in _matching(Lead.objects.exclude(status__in=(LeadStatus.CLOSED, LeadStatus.MERGED)), "mobile", mobiles):
        for name, owner, mobile in leads.values_list("name", "owner__username", "mobile"):
            out.setdefault(("mobile", mobile), Duplicate("lead", name, owner or "", "mobile", mobile).describe(viewer))
    live = Customer.objects.exclude(status=CustomerStatus.MERGED)
    for key, values in (("mobile", mobiles), ("id_number", ids)):
        for found in _matching(live, key, values):
            for name, owner, value in found.values_list("name", "owner__username", key):
                out.setdefault((key, value), Duplicate("customer", name, owner or "", key, value).describe(viewer))
    for found in _matching(Customer.objects.all(), "card_no", cards):
        for card in found.values_list("card_no", flat=True):
            out[("card_no", str(card))] = _("会员卡号「%(v)s」已被使用") % {"v": card}
    return out


# ---------------------------------------------------------------------------------------------------
# Preview, commit, undo
# ---------------------------------------------------------------------------------------------------


def preview(*, actor: Any, kind: ImportKind, data: bytes, filename: str) -> ImportBatch:
    """Read and check the whole file; nothing is imported yet. Raises ImportFileError for a file that
    cannot be read at all."""
    table = read_table(data, filename, kind.columns)
    checked = Checker(kind, actor).check(table)
    return save_preview(
        kind=kind.key,
        actor=actor,
        data=data,
        filename=filename,
        total=len(table.rows),
        good=len(checked.good),
        problems=checked.problems,
        unused=table.unused,
        notices=[*table.notices, *checked.notices],
    )


def commit(*, actor: Any, batch: ImportBatch, request: Any = None, progress: Progress = no_progress) -> ImportBatch:
    """Import the good rows of a previewed batch in one transaction. The file is checked again first: what
    changed since the preview (another import, a new customer) is caught, and skipped with its reason."""
    kind = KINDS[batch.kind]
    with transaction.atomic():
        batch, table = reread_for_commit(actor=actor, batch=batch, columns=kind.columns, progress=progress)
        checked = Checker(kind, actor).check(table, progress)
        n = _write(kind, batch, actor, checked.good, progress)
        progress("save")
        if connection.vendor == "sqlite" and n >= 1000:  # fresh statistics for the planner (see crm.core.apps)
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(kind.model._meta.db_table)}")
        batch.status, batch.committed_at = ImportStatus.COMMITTED, timezone.now()
        batch.total, batch.imported, batch.skipped = len(table.rows), n, len(checked.problems)
        batch.problems, batch.data = checked.problems, None
        batch.save()
        audit(
            actor=actor,
            action=AuditAction.CREATE,
            obj=batch,
            object_repr=_("导入%(kind)s:%(file)s") % {"kind": kind.label, "file": batch.filename},
            changes={"imported": n, "skipped": batch.skipped},
            request=request,
        )
    return batch


def undo(*, actor: Any, batch: ImportBatch, request: Any = None, progress: Progress = no_progress) -> int:
    """Remove every record of a committed import, as long as none of them has been worked on since."""
    kind = KINDS[batch.kind]
    progress("undo")
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.created_by_id != actor.pk and not actor.is_superuser:
            raise ImportRefused(_("只有导入人可以撤销这次导入。"))
        if batch.status != ImportStatus.COMMITTED:
            raise ImportRefused(_("这次导入是「%(s)s」,不能撤销。") % {"s": batch.get_status_display()})
        records = kind.model.objects.filter(import_batch=batch)
        subject = "lead" if kind.key == "lead" else "customer"
        touched = records.filter(
            Q(pk__in=FollowUp.objects.filter(**{f"{subject}__import_batch": batch}).values(f"{subject}_id"))
            | Q(pk__in=Handover.objects.filter(**{f"{subject}__import_batch": batch}).values(f"{subject}_id"))
            | Q(updated_at__gt=batch.committed_at)
        )
        names = list(touched.order_by("name", "pk").values_list("name", flat=True)[:4])
        if names:
            total = len(names) if len(names) <= 3 else touched.count()
            who = named_few(names, total, str(_("条记录")))
            after = (
                _("导错的潜在客户可以逐条【关闭客户】。")
                if kind.key == "lead"
                else _("导错的客户请联系系统管理员处理。")
            )
            raise ImportRefused(_("这次导入的记录中%(who)s已有跟踪、移交或修改,不能整批撤销。") % {"who": who} + after)
        if kind.key == "customer":
            Lead.objects.filter(customer__import_batch=batch).update(customer=None)
        n = records.count()
        try:
            records.delete()
        except (ProtectedError, RestrictedError):  # another module holds records of them (consumption, points)
            raise ImportRefused(_("这次导入的客户已有消费、积分等业务记录,不能整批撤销;请逐条处理。")) from None
        batch.status, batch.undone_at = ImportStatus.UNDONE, timezone.now()
        batch.save(update_fields=["status", "undone_at"])
        audit(
            actor=actor,
            action=AuditAction.DELETE,
            obj=batch,
            object_repr=_("撤销导入%(kind)s:%(file)s") % {"kind": kind.label, "file": batch.filename},
            changes={"removed": n},
            request=request,
        )
    return n


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------


def _reserve_cards(n: int) -> Iterator[str]:
    """``n`` new member card numbers, reserved at once (the counter row stays locked until the commit)."""
    from django.conf import settings

    if n <= 0:
        return iter(())
    Counter.objects.get_or_create(name="card_no")
    Counter.objects.filter(name="card_no").update(value=F("value") + n)
    last = Counter.objects.get(name="card_no").value
    year = timezone.localdate().year
    pattern = str(settings.CRM_CARD_NUMBER_PATTERN)
    return iter([pattern.format(year=year, seq=seq) for seq in range(last - n + 1, last + 1)])


def _records(
    kind: ImportKind, batch: ImportBatch, actor: Any, rows: list[tuple[int, dict[str, Any]]]
) -> Iterable[dict[str, Any]]:
    """The rows to write. The card numbers are reserved before the first row is made: no other query may run
    on the connection while COPY is writing."""
    now = timezone.now()
    need = sum(1 for _l, r in rows if not r.get("card_no")) if kind.key == "customer" else 0
    return _record_rows(kind, batch, actor, rows, now, _reserve_cards(need))


def _record_rows(
    kind: ImportKind,
    batch: ImportBatch,
    actor: Any,
    rows: list[tuple[int, dict[str, Any]]],
    now: Any,
    cards: Iterator[str],
) -> Iterator[dict[str, Any]]:
    common: dict[str, Any] = {
        "registered_by_id": actor.pk,
        "import_batch_id": batch.pk,
        "created_at": now,
        "updated_at": now,
        "owned_since": now,
    }
    if kind.key == "lead":
        common["status"] = LeadStatus.FOLLOWING
        for _line, row in rows:
            yield {**common, **row, **search_keys(row["name"])}
        return
    common.update({"status": CustomerStatus.FORMAL, "approved_at": now})
    for _line, row in rows:
        record = {**common, **row, **search_keys(row["name"])}
        record["card_no"] = row.get("card_no") or next(cards)
        if row.get("sms_consent"):
            record["sms_consent_at"], record["sms_consent_source"] = now, "导入"
        yield record


def _write(
    kind: ImportKind,
    batch: ImportBatch,
    actor: Any,
    rows: list[tuple[int, dict[str, Any]]],
    progress: Progress = no_progress,
) -> int:
    model = kind.model
    total = len(rows)
    progress("write", 0, total)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    template = [_default(f) for f in fields]
    records = _records(kind, batch, actor, rows)
    if connection.vendor == "postgresql":
        # One COPY; a second thread feeds the server while this one formats the next rows.
        from psycopg.copy import QueuedLibpqWriter

        columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
        table = connection.ops.quote_name(model._meta.db_table)
        n = 0
        with connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({columns}) FROM STDIN", writer=QueuedLibpqWriter(raw)) as copy:
                position = {name: i for i, name in enumerate(names)}
                for record in records:
                    values = template.copy()
                    for key, value in record.items():
                        i = position.get(key)
                        if i is not None:
                            values[i] = value
                    copy.write_row(values)
                    n += 1
                    if not n % PROGRESS_EVERY:
                        progress("write", n, total)
        return n
    # Elsewhere (SQLite): one executemany of plain tuples, the values adapted as Django would adapt them.
    # Building model instances for bulk_create cost four times the writing itself (30 s for 100,000 rows).
    adapt = [_adapter(f) for f in fields]
    placeholders = ", ".join(["%s"] * len(fields))
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    position = {name: i for i, name in enumerate(names)}
    n = 0
    with connection.cursor() as cursor:
        chunk: list[list[Any]] = []
        for record in records:
            values = template.copy()
            for key, value in record.items():
                i = position.get(key)
                if i is not None:
                    values[i] = value
            chunk.append([a(v) if a is not None and v is not None else v for a, v in zip(adapt, values, strict=True)])
            if len(chunk) == 2000:
                cursor.executemany(sql, chunk)
                n, chunk = n + len(chunk), []
                if not n % PROGRESS_EVERY:
                    progress("write", n, total)
        if chunk:
            cursor.executemany(sql, chunk)
            n += len(chunk)
    return n


def _adapter(f: models.Field) -> Any:
    """How a value of ``f`` goes to the database when not through the ORM (dates and times, decimals)."""
    if isinstance(f, models.DateTimeField | models.DateField | models.DecimalField | models.TimeField):
        return lambda value: f.get_db_prep_save(value, connection)
    return None


def _default(f: models.Field) -> Any:
    if f.has_default():
        return f.get_default()
    if f.null:
        return None
    if isinstance(f, models.CharField | models.TextField):
        return ""
    return None


# ---------------------------------------------------------------------------------------------------
# The import page (crm.core.views_import)
# ---------------------------------------------------------------------------------------------------

_TEMPLATE_NOTES = (
    gettext_lazy("手机号、身份证号、会员卡号请设为文本格式,以免被 Excel 改成科学计数法。"),
    gettext_lazy("客户来源、意向等级、客户级别等须填写「数据字典」中已有的名称。"),
    gettext_lazy("文件可以是 .xlsx、.xls 或 .csv(UTF-8 或 GBK 编码);表头上方可以有标题行。"),
)


def _preview_of(kind: ImportKind) -> Any:
    def run(*, actor: Any, data: bytes, filename: str) -> ImportBatch:
        return preview(actor=actor, kind=kind, data=data, filename=filename)

    return run


for _kind in KINDS.values():
    register(
        Importer(
            key=_kind.key,
            label=_kind.label,
            permission=_kind.permission,
            columns=_kind.columns,
            preview=_preview_of(_kind),
            commit=commit,
            undo=undo,
            template_notes=_TEMPLATE_NOTES,
        )
    )
