"""The import framework: read a spreadsheet as the club's staff produce it, find its header, clean its cells.

A file may be .xlsx, .xls or .csv (UTF-8 with or without BOM, or GBK); it may have title rows above the
header and totals below the data; header names may carry spaces, TABs, U+3000 and full-width brackets;
numbers typed into Excel come back as floats. Everything that is wrong with a file is a ``ImportFileError``
with a sentence for the person, never an exception from a library.

A domain app describes its columns (``ImportColumn``), validates rows and writes them, and registers what it
imports (``Importer``, ``register``); this module does the reading (``read_table``) and the parts every import
shares (the template, the problem report, the progress of an import running in the background). One page
(``crm.core.views_import``) serves every registered importer.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import xlsxwriter
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import ImportBatch, ImportJob, ImportStatus

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"[\s\u3000\ufeff]+")
_WIDE = str.maketrans("（）［］：０１２３４５６７８９", "()[]:0123456789")


class ImportFileError(ValidationError):
    """A file that cannot be imported at all; the message says why and what to do."""


class ImportRefused(ValidationError):
    """A batch that cannot be committed or undone now; the message says why."""


@dataclass(frozen=True)
class ImportColumn:
    key: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    example: str = ""
    help: str = ""

    def names(self) -> set[str]:
        return {clean_header(n) for n in (self.label, *self.aliases)}


@dataclass
class Table:
    """The data rows of a file under its header: each row a dict of column key → cleaned cell."""

    columns: list[ImportColumn]
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (line number in the file, values)
    header_line: int = 0
    unused: list[str] = field(default_factory=list)  # header cells no column recognised: 「电话」(C 列)
    notices: list[str] = field(default_factory=list)  # what the person should know of how the file was read


# The columns the file of rows not imported adds around the template's (``problems_xlsx``): read back, they are
# the file's own and not data, so a corrected file goes in again without a word about them.
REPORT_COLUMNS = ("行号", "问题")

_NOTE = re.compile(r"[(\[【][^()\[\]【】]*[)\]】]$")  # 手机号(必填), 手机号【必填】, 金额(元)


def clean_header(text: Any) -> str:
    """A header cell as a column name: without spaces, a required-mark ``*`` or a trailing note in brackets."""
    name = _SPACES.sub("", str(text or "")).translate(_WIDE).strip("*").strip()
    return _NOTE.sub("", name).strip("*") or name


def clean_cell(value: Any) -> Any:
    """Strings trimmed of spaces, TABs and U+3000 (all whitespace to ``str.strip``), inner U+3000 as a space;
    whole floats as integers (a mobile typed into Excel)."""
    if type(value) is str:
        value = value.strip()
        return value.replace("\u3000", " ") if "\u3000" in value else value
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def _check_size(data: bytes) -> None:
    if not data:
        raise ImportFileError(_("文件是空的。"))
    limit = settings.CRM_IMPORT_MAX_BYTES
    if len(data) > limit:
        raise ImportFileError(
            _("文件太大(%(size).1f MB),一次最多导入 %(limit)d MB;请分成几个文件导入。")
            % {"size": len(data) / 1e6, "limit": limit // 1_000_000}
        )


def _check_zip(data: bytes) -> None:
    """An .xlsx is a zip: refuse one that would unpack to far more than any real spreadsheet (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(_("文件已损坏,无法作为 Excel 文件打开。")) from None
    if total > settings.CRM_IMPORT_MAX_UNPACKED_BYTES:
        raise ImportFileError(_("文件解压后过大,不像正常的 Excel 文件,已拒绝。"))


def _read_workbook(data: bytes) -> Iterator[tuple[str, list[list[Any]]]]:
    """The workbook's visible worksheets, in order, each as its name and its rows (read when asked for). A hidden
    sheet is not read: it is where staff keep what they do not mean to import. A merged cell's value is in each
    row the merge covers (see ``_fill_merged``)."""
    book, sheets = _open_workbook(data)
    for index, name in sheets:
        yield name, _read_sheet(book, index)


def _open_workbook(data: bytes) -> tuple[Any, list[tuple[int, str]]]:
    """The workbook, and the index and name of each of its visible worksheets."""
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [
            (i, m.name)
            for i, m in enumerate(book.sheets_metadata)
            if m.visible == SheetVisibleEnum.Visible and m.typ == SheetTypeEnum.WorkSheet
        ]
    except Exception:
        raise ImportFileError(_("无法读取这个 Excel 文件(可能已损坏或加了密码);请另存为 .xlsx 后重试。")) from None
    if not sheets:
        raise ImportFileError(_("文件里没有可见的工作表。"))
    return book, sheets


def _read_sheet(book: Any, index: int) -> list[list[Any]]:
    try:
        sheet = book.get_sheet_by_index(index)
        rows = sheet.to_python(skip_empty_area=False)
        merged = sheet.merged_cell_ranges or []
    except Exception:
        raise ImportFileError(_("无法读取这个 Excel 文件(可能已损坏或加了密码);请另存为 .xlsx 后重试。")) from None
    return _fill_merged(rows, merged)


def _fill_merged(rows: list[list[Any]], merged: Iterable[tuple[tuple[int, int], tuple[int, int]]]) -> list[list[Any]]:
    """A value merged down several rows (a 负责人 or 客户来源 shared by the rows beside it) in each of them: the
    spreadsheet shows it on every row, the file holds it in the first. Across columns a merged value stays in
    its first column, as the spreadsheet itself reads it."""
    for (top, col), (bottom, _right) in merged:
        if top >= len(rows) or col >= len(rows[top]):
            continue
        value = rows[top][col]
        for r in range(top + 1, min(bottom, len(rows) - 1) + 1):
            if col < len(rows[r]) and rows[r][col] in ("", None):
                rows[r][col] = value
    return rows


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's 「Unicode 文本」 is UTF-16 with a byte-order mark
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("无法识别文件的编码;请另存为 UTF-8 或 GBK 编码的 CSV,或 Excel 文件。"))


def _read_csv(data: bytes) -> list[list[Any]]:
    if b"\x00" in data[:4096] and data[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportFileError(_("这不是表格文件;请上传 .xlsx、.xls 或 .csv 文件。"))
    text = _decode(data)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        return list(csv.reader(io.StringIO(text), dialect))
    except csv.Error:
        raise ImportFileError(_("CSV 文件格式有误,无法读取。")) from None


def read_sheets(data: bytes, filename: str = "") -> Iterator[tuple[str, list[list[Any]]]]:
    """The file's sheets as (name, rows), cells cleaned: a workbook's visible worksheets in order, read one at a
    time as they are asked for; a CSV is one sheet without a name."""
    _check_size(data)
    if data[:4] == b"PK\x03\x04":
        _check_zip(data)
        sheets: Iterable[tuple[str, list[list[Any]]]] = _read_workbook(data)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # an .xls (OLE2 compound file)
        sheets = _read_workbook(data)
    elif filename.lower().endswith((".xlsx", ".xls", ".xlsm")):
        raise ImportFileError(_("文件扩展名是 Excel,但内容不是 Excel 文件;请重新导出后上传。"))
    elif "." in filename and not filename.lower().endswith((".csv", ".txt", ".tsv")):
        raise ImportFileError(
            _("「%(name)s」不是表格文件;请上传 .xlsx、.xls 或 .csv 文件。") % {"name": filename.rsplit("/", 1)[-1][:60]}
        )
    else:
        sheets = [("", _read_csv(data))]
    for name, raw in sheets:
        yield name, _clean_rows(raw)


def _clean_rows(raw: list[list[Any]]) -> list[list[Any]]:
    return [[clean_cell(c) for c in row] for row in raw]


def read_rows(data: bytes, filename: str = "") -> list[list[Any]]:
    """All rows of the file's first visible sheet (or of the CSV), cells cleaned."""
    return next(iter(read_sheets(data, filename)))[1]


def _column_letter(index: int) -> str:
    """The spreadsheet's name of a column: 0 → A, 25 → Z, 26 → AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def read_table(data: bytes, filename: str, columns: Sequence[ImportColumn]) -> Table:
    """The file's rows under the header the columns recognise. The header is the first of the top rows that
    names every required column, on the first visible sheet that has one (a workbook may open with a sheet of
    notes); rows above it are titles, blank rows and totals rows below are skipped."""
    required = [c for c in columns if c.required]
    by_name = {name: c for c in columns for name in c.names()}
    passed: list[str] = []  # sheets before the one read, without a header
    best: tuple[str, list[list[Any]], tuple[int, dict[int, ImportColumn]]] | None = None  # most like a header
    for sheet, rows in read_sheets(data, filename):
        header_at, mapping, likely = _find_header(rows, by_name, required, len(columns))
        if header_at >= 0:
            break
        if best is None or len(likely[1]) > len(best[2][1]):
            best = (sheet, rows, likely)
        passed.append(sheet)
    else:
        assert best is not None
        message = _no_header(best[1], best[2], required)
        if len(passed) > 1:
            where = _("工作表「%(sheet)s」") % {"sheet": best[0]} if best[2][0] >= 0 else ""
            message = where + message + _("(文件中 %(n)d 个工作表都找过了。)") % {"n": len(passed)}
        raise ImportFileError(message)
    seen: dict[str, int] = {}
    for j, column in sorted(mapping.items()):
        if column.key in seen:  # which of the two would count is anybody's guess: ask
            raise ImportFileError(
                _("表头中「%(col)s」出现了两次(第 %(a)s 列和第 %(b)s 列);请删去或改名其中一列后再上传。")
                % {"col": column.label, "a": _column_letter(seen[column.key]), "b": _column_letter(j)}
            )
        seen[column.key] = j
    limit = settings.CRM_IMPORT_MAX_ROWS
    table = Table(columns=list(columns), header_line=header_at + 1, unused=_unused(rows[header_at], mapping))
    if passed:
        table.notices.append(
            _("读取的是工作表「%(sheet)s」:前面的工作表「%(passed)s」中没有表头。")
            % {"sheet": sheet, "passed": "」「".join(passed)}
        )
    for i, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        values = {mapping[j].key: v for j, v in enumerate(row) if j in mapping}
        if all(v in ("", None) for v in values.values()) or _is_totals(row):
            continue
        table.rows.append((i, values))
        if len(table.rows) > limit:
            raise ImportFileError(_("文件超过 %(n)d 行,请分成几个文件导入。") % {"n": limit})
    if not table.rows:
        raise ImportFileError(_("表头下面没有数据行。"))
    return table


def _find_header(
    rows: list[list[Any]], by_name: dict[str, ImportColumn], required: list[ImportColumn], n_columns: int
) -> tuple[int, dict[int, ImportColumn], tuple[int, dict[int, ImportColumn]]]:
    """(line index of the header or -1, its cells' columns, the top row most like a header to say what it lacks)."""
    likely: tuple[int, dict[int, ImportColumn]] = (-1, {})
    for i, row in enumerate(rows[:30]):
        found = {j: by_name[clean_header(cell)] for j, cell in enumerate(row) if clean_header(cell) in by_name}
        keys = {c.key for c in found.values()}
        if all(c.key in keys for c in required) and len(found) >= min(2, n_columns):
            return i, found, likely
        if len(found) > len(likely[1]):
            likely = (i, found)
    return -1, {}, likely


_TOTALS = re.compile(r"^(?:合计|总计|小计|共计)(?:[:(\[].*)?$")


def _is_totals(row: list[Any]) -> bool:
    """A totals row (合计, 总 计 or 小计, in whichever column: after a 序号 too) or a comment line (# first)."""
    texts = [v for v in row if type(v) is str and v]
    if not texts:
        return False
    if texts[0].startswith("#") and next(v for v in row if v not in ("", None)) is texts[0]:
        return True
    if "计" not in "".join(texts):  # the usual row, at the cost of one join
        return False
    return any(_TOTALS.match(_SPACES.sub("", v).translate(_WIDE)) for v in texts if "计" in v)


def _unused(header: list[Any], mapping: dict[int, ImportColumn]) -> list[str]:
    """The header's named cells no column recognised, as 「电话」(C 列): their data is not imported."""
    ours = {clean_header(n) for n in (*REPORT_COLUMNS, *(_(n) for n in REPORT_COLUMNS))}
    return [
        _("「%(name)s」(%(col)s 列)") % {"name": str(cell).strip(), "col": _column_letter(j)}
        for j, cell in enumerate(header)
        if j not in mapping and str(cell or "").strip() and clean_header(cell) not in ours
    ]


def _no_header(rows: list[list[Any]], likely: tuple[int, dict[int, ImportColumn]], required: list[Any]) -> str:
    """Why no header was found: what the row most like one lacks, or which columns a header needs."""
    at, found = likely
    if at < 0:
        return _("找不到表头:表头须包含「%(cols)s」。请下载导入模板,按模板的列填写。") % {
            "cols": "、".join(c.label for c in required)
        }
    keys = {c.key for c in found.values()}
    parts = [
        _("第 %(line)d 行像是表头,但只认出了「%(known)s」")
        % {"line": at + 1, "known": "、".join(c.label for _j, c in sorted(found.items()))}
    ]
    missing = [c.label for c in required if c.key not in keys]
    if missing:
        parts.append(_("缺少「%(cols)s」") % {"cols": "、".join(missing)})
    unknown = _unused(rows[at], found)
    if unknown:
        parts.append(_("认不出%(cols)s") % {"cols": "、".join(unknown)})
    return "".join((";".join(parts), _("。请按导入模板的列名填写表头。")))


# ---------------------------------------------------------------------------------------------------
# Cells to values
# ---------------------------------------------------------------------------------------------------


def narrow(text: str) -> str:
    """Full-width letters, digits and punctuation as their ASCII forms (NFKC): １３８、ＶＩＰ－００２、（销售二组）
    as a Chinese input method types them are 138, VIP-002, (销售二组). For codes, numbers and names looked up,
    not for text kept as typed (a company's （北京） stays)."""
    return unicodedata.normalize("NFKC", text) if not text.isascii() else text


def fold(value: Any) -> str:
    """A cell as a key to look up by: narrowed (``narrow``), without spaces, case aside."""
    return "".join(narrow(str(value)).split()).casefold()


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


_EXCEL_EPOCH = datetime(1899, 12, 30)  # Excel's day 1 is 1900-01-01 (day 60, 1900-02-29, never was)
_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s.*)?$")


def as_date(value: Any) -> date | None:
    """A date from a cell: a real date, Excel's day number, 2020-01-31, 2020/1/31, 2020年1月31日 or 20200131, in
    full-width digits too. ``None`` for empty; ``ValueError`` when it is not a date."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 61 <= value < 80_000:
        return (_EXCEL_EPOCH + timedelta(days=int(value))).date()  # a date cell formatted as a number
    text = narrow(str(value)).strip()
    m = _DATE_RE.match(text)
    if m:
        return date(int(m[1]), int(m[2]), int(m[3]))
    if re.fullmatch(r"\d{8}", text):
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    raise ValueError(text)


# ---------------------------------------------------------------------------------------------------
# Workbooks we hand out: the template, the problem report
# ---------------------------------------------------------------------------------------------------


def template_xlsx(title: str, columns: Sequence[ImportColumn], notes: Iterable[str] = ()) -> bytes:
    """An import template: the header (required columns marked), one example row, every column as text."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(title[:31])
    head = book.add_format({"bold": True, "bg_color": "#E9ECEF", "border": 1})
    need = book.add_format({"bold": True, "bg_color": "#FDE2E1", "border": 1})
    text = book.add_format({"num_format": "@"})
    for c, col in enumerate(columns):
        sheet.write_string(0, c, col.label, need if col.required else head)
        sheet.set_column(c, c, 16, text)
        if col.example:
            sheet.write_string(1, c, col.example)
        if col.help:
            sheet.write_comment(0, c, col.help)
    notes_sheet = book.add_worksheet(_("说明"))
    lines = [_("红色表头为必填列;第 2 行是示例,导入前请删除或改成真实数据。"), *notes]
    for r, line in enumerate(lines):
        notes_sheet.write_string(r, 0, line)
    notes_sheet.set_column(0, 0, 100)
    book.close()
    return buffer.getvalue()


MAX_CELL = 32_767  # the most characters an Excel cell holds


def cell_text(value: Any) -> str:
    """A cell as the person typed it and sees it in Excel, as text: a date as 2026-11-20, with its time when it
    has one (2026-11-20 19:30); a number with Excel's 15 significant digits (no binary noise); NUL characters,
    which a database refuses, dropped."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.second or value.microsecond:
            text = value.strftime("%Y-%m-%d %H:%M:%S")
        elif value.hour or value.minute:
            text = value.strftime("%Y-%m-%d %H:%M")
        else:
            text = value.strftime("%Y-%m-%d")
    elif isinstance(value, date):
        text = value.strftime("%Y-%m-%d")
    elif isinstance(value, float):
        text = format(value, ".15g")
    else:
        text = str(value)
    return text.replace("\x00", "").strip()[:MAX_CELL]


def original_values(values: dict[str, Any]) -> dict[str, str]:
    """A row's cells as read (``Table.rows``), by column key, as text (``cell_text``), the empty ones left out:
    what a problem entry keeps so that ``problems_xlsx`` can give the row back as it was."""
    out = {}
    for key, value in values.items():
        text = cell_text(value)
        if text:
            out[key] = text
    return out


def problems_xlsx(title: str, problems: Sequence[dict[str, Any]], columns: Sequence[ImportColumn] = ()) -> bytes:
    """The rows that were not imported, with the reasons: a file to fix and import again as it is.

    Each row as it was typed (its ``values``), under the importer's ``columns`` as the template heads them, every
    cell text (mobiles, ID, card and order numbers stay as typed); before them 行号, the row's line in the
    uploaded file, after them 问题, the reasons: two columns the reader ignores. A batch whose problems kept no
    values (one made before they were kept) gives 行号, 姓名 and 问题 only."""
    buffer = io.BytesIO()
    # Rows go to a temporary file as they are written (``in_memory`` would turn ``constant_memory`` off).
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True})
    sheet = book.add_worksheet(title[:31])
    head = book.add_format({"bold": True, "bg_color": "#E9ECEF", "border": 1})
    if not columns or not all("values" in p for p in problems):
        for c, label in enumerate((_("行号"), _("姓名"), _("问题"))):
            sheet.write_string(0, c, label, head)
        sheet.set_column(0, 0, 8)
        sheet.set_column(1, 1, 16)
        sheet.set_column(2, 2, 80)
        for r, p in enumerate(problems, start=1):
            sheet.write_number(r, 0, p["line"])
            sheet.write_string(r, 1, str(p.get("name", "")))
            sheet.write_string(r, 2, ";".join(p["problems"]))
        book.close()
        return buffer.getvalue()
    need = book.add_format({"bold": True, "bg_color": "#FDE2E1", "border": 1})
    text = book.add_format({"num_format": "@"})
    keys = [(c, col.key) for c, col in enumerate(columns, start=1)]
    last = len(columns) + 1
    sheet.write_string(0, 0, _("行号"), head)
    for c, col in enumerate(columns, start=1):
        sheet.write_string(0, c, col.label, need if col.required else head)
    sheet.write_string(0, last, _("问题"), head)
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, len(columns), 16, text)
    sheet.set_column(last, last, 80)
    sheet.freeze_panes(1, 0)
    for r, p in enumerate(problems, start=1):
        values = p["values"]
        sheet.write_number(r, 0, p["line"])
        for c, key in keys:
            value = values.get(key)
            if value:
                sheet.write_string(r, c, str(value), text)
        sheet.write_string(r, last, ";".join(p["problems"]))
    book.close()
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------
# What an app imports, and the progress of an import running in the background
# ---------------------------------------------------------------------------------------------------


class Progress(Protocol):
    """Told how far an import has come: ``phase`` (a key of ``PHASES``), rows ``done`` of ``total``."""

    def __call__(self, phase: str, done: int = 0, total: int = 0) -> None: ...


def no_progress(phase: str, done: int = 0, total: int = 0) -> None:
    """The progress of an import run in the request: nobody is watching."""


PHASES = {
    "queued": gettext_lazy("排队等待后台处理"),
    "read": gettext_lazy("读取文件"),
    "check": gettext_lazy("检查数据"),
    "write": gettext_lazy("写入数据"),
    "save": gettext_lazy("保存:最后检查关联数据并提交"),
    "undo": gettext_lazy("撤销导入"),
}


_NAME = gettext_lazy("姓名")
_UNDONE = gettext_lazy("已撤销这次导入,删除了 %(n)s 条记录。")
_UNDO_CONFIRM = gettext_lazy("撤销会删除这次导入写入的全部记录,确定吗?")


@dataclass(frozen=True)
class Importer:
    """One kind of import, as the import page shows and runs it.

    ``preview(actor=, data=, filename=)`` reads and checks a file and returns its ``ImportBatch``;
    ``commit(actor=, batch=, request=, progress=)`` writes its good rows in one transaction;
    ``undo(actor=, batch=, request=, progress=)`` takes a committed batch back and returns how many records it
    took back. ``commit`` and ``undo`` raise ``ImportRefused`` with the reason when they cannot."""

    key: str  # the batch's ``kind`` and the page's URL part
    label: Any  # what is imported: 客户, 消费记录
    permission: str
    columns: Sequence[ImportColumn]
    preview: Callable[..., Any]
    commit: Callable[..., Any]
    undo: Callable[..., int]
    name_label: Any = _NAME  # the column naming a problem row
    notes: Sequence[Any] = ()  # more paragraphs on the page
    template_notes: Sequence[Any] = ()  # the 说明 sheet of the template
    undo_confirm: Any = _UNDO_CONFIRM  # asked before 【撤销】
    undone: Any = _UNDONE  # the message after 【撤销】, with %(n)s (the count, formatted) records taken back

    @property
    def title(self) -> str:
        return _("导入%(kind)s") % {"kind": self.label}


IMPORTERS: dict[str, Importer] = {}


def register(importer: Importer) -> Importer:
    """Make ``importer`` known to the import page (done by each app's ``imports`` module, loaded at start)."""
    IMPORTERS[importer.key] = importer
    return importer


def _progress_key(batch_id: int) -> str:
    return f"crm:import-progress:{batch_id}"


class ProgressReport:
    """A background import's progress, written where the web processes can read it (the ``progress`` cache),
    at most twice a second within a phase."""

    def __init__(self, batch_id: int) -> None:
        self.key, self.phase, self.last = _progress_key(batch_id), "", 0.0

    def __call__(self, phase: str, done: int = 0, total: int = 0) -> None:
        now = time.monotonic()
        if phase == self.phase and now - self.last < 0.5 and done < total:
            return
        self.phase, self.last = phase, now
        value = {"phase": phase, "done": done, "total": total, "at": time.time()}
        caches[settings.CRM_PROGRESS_CACHE].set(self.key, value, 24 * 3600)

    def clear(self) -> None:
        caches[settings.CRM_PROGRESS_CACHE].delete(self.key)


def progress_of(batch_id: int) -> dict[str, Any] | None:
    """What ``ProgressReport`` last wrote for the batch, with its phase's words and a percentage, or ``None``."""
    value = caches[settings.CRM_PROGRESS_CACHE].get(_progress_key(batch_id))
    if not value:
        return None
    total, done = int(value.get("total") or 0), int(value.get("done") or 0)
    return {
        **value,
        "label": PHASES.get(value.get("phase", ""), ""),
        "percent": min(100, done * 100 // total) if total else None,
    }


# ---------------------------------------------------------------------------------------------------
# The batch: a preview saved, and taken up again for its commit
# ---------------------------------------------------------------------------------------------------


def save_preview(
    *,
    kind: str,
    actor: Any,
    data: bytes,
    filename: str,
    total: int,
    good: int,
    problems: list[dict[str, Any]],
    unused: Sequence[str] = (),
    notices: Sequence[str] = (),
) -> ImportBatch:
    """The batch of a checked file (nothing imported yet): the upload itself, its counts, each problem row, the
    columns of the file that are not imported (``Table.unused``) and the checker's notices about the file."""
    return ImportBatch.objects.create(
        kind=kind,
        filename=filename.replace("\x00", "")[:200],  # PostgreSQL text cannot hold U+0000
        created_by=actor,
        total=total,
        imported=good,
        skipped=len(problems),
        problems=problems,
        unused_columns=list(unused),
        notices=list(notices),
        data=data,
    )


def named_few(names: Sequence[str], total: int, unit: str, shown: int = 3) -> str:
    """The records a refusal is about: 「张三」、「李四」, or 「张三」、「李四」、「王五」 等 5 位会员 when ``total``
    (counted in ``unit``) is more than the ``shown`` first ``names``."""
    listed = "、".join(f"「{n}」" for n in names[:shown])
    if total <= shown:
        return listed
    return _("%(names)s 等 %(n)d %(unit)s") % {"names": listed, "n": total, "unit": unit}


def discard(*, actor: Any, batch: ImportBatch) -> str:
    """【放弃】 a checked file that will not be imported (nothing of it was written): the batch and its upload are
    deleted. Returns its file name."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.created_by_id != actor.pk:
            raise ImportRefused(_("只有上传文件的人可以放弃这次导入。"))
        if batch.status != ImportStatus.PREVIEW or batch.job:
            raise ImportRefused(_("这次导入已经是「%(s)s」,不能放弃。") % {"s": batch.get_status_display()})
        batch.delete()
    return batch.filename


def reread_for_commit(
    *, actor: Any, batch: ImportBatch, columns: Sequence[ImportColumn], progress: Progress = no_progress
) -> tuple[ImportBatch, Table]:
    """Inside the commit's transaction: the batch locked (one commit at a time), refused unless it is the
    actor's own and still 待确认, and its file read again (the commit checks everything anew)."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.created_by_id != actor.pk:
        raise ImportRefused(_("只有上传文件的人可以确认这次导入。"))
    if batch.status != ImportStatus.PREVIEW:
        raise ImportRefused(_("这次导入已经是「%(s)s」,不能再确认。") % {"s": batch.get_status_display()})
    progress("read")
    try:
        table = read_table(bytes(batch.data or b""), batch.filename, columns)
    except ImportFileError as exc:
        raise ImportRefused(exc.messages) from None
    return batch, table


# ---------------------------------------------------------------------------------------------------
# Running a commit or an undo: in the request, or in the background for a big batch
# ---------------------------------------------------------------------------------------------------

STALE_AFTER = timedelta(minutes=10)  # a job with no progress for this long is taken as lost (its worker died)


def in_background(batch: ImportBatch) -> bool:
    """Whether a commit or undo of ``batch`` runs as a background task rather than in the request."""
    return batch.total > settings.CRM_IMPORT_BACKGROUND_ROWS


def job_stale(batch: ImportBatch, now: datetime | None = None) -> bool:
    """A pending job that has shown no sign of life for ``STALE_AFTER``: queued that long ago and not reported
    progress since (no worker is running, or it stopped). Its transaction wrote nothing: it may be started again."""
    if not batch.job or batch.job_queued_at is None:
        return False
    now = now or timezone.now()
    if now - batch.job_queued_at < STALE_AFTER:
        return False
    progress = progress_of(batch.pk)
    return progress is None or time.time() - float(progress.get("at", 0)) > STALE_AFTER.total_seconds()


def enqueue(*, batch: ImportBatch, job: str) -> bool:
    """Hand ``job`` (an ``ImportJob``) for ``batch`` to the background worker; ``False`` (and nothing done) when
    a job of the batch is already pending and alive. The task is queued once the claim is committed."""
    from .tasks import run_import

    now = timezone.now()
    with transaction.atomic():
        current = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if current.job and not job_stale(current, now):
            return False
        ImportBatch.objects.filter(pk=batch.pk).update(job=job, job_queued_at=now, job_error="")
        ProgressReport(batch.pk).clear()
        transaction.on_commit(lambda: run_import.enqueue(batch.pk))
    batch.job, batch.job_queued_at, batch.job_error = job, now, ""
    return True


def run_job(batch_id: int) -> dict[str, Any]:
    """Run the pending job of a batch (the background task's body): its importer's ``commit`` or ``undo`` as the
    person who asked for it, reporting progress. A refusal or a failure is kept on the batch for its page."""
    batch = ImportBatch.objects.select_related("created_by").filter(pk=batch_id).first()
    if batch is None or not batch.job:
        return {"batch": batch_id, "ran": False}
    job, importer = batch.job, IMPORTERS.get(batch.kind)
    report = ProgressReport(batch.pk)
    error, done = "", 0
    try:
        if importer is None:
            raise ImportRefused(_("找不到这次导入,请重新上传文件。"))
        if job == ImportJob.COMMIT:
            done = importer.commit(actor=batch.created_by, batch=batch, progress=report).imported
        else:
            done = importer.undo(actor=batch.created_by, batch=batch, progress=report)
    except (ImportRefused, ImportFileError) as exc:
        error = " ".join(str(m) for m in exc.messages)
        wanted = ImportStatus.COMMITTED if job == ImportJob.COMMIT else ImportStatus.UNDONE
        if ImportBatch.objects.filter(pk=batch_id, status=wanted).exists():
            error = ""  # a second run of a job resubmitted as lost, whose first run did it meanwhile: nothing wrong
    except Exception:
        logger.exception("import batch %s: the background %s failed", batch_id, job)
        error = _("后台处理时系统出错,这次操作没有写入任何数据;请稍后重试,或联系系统管理员。")
    finally:
        report.clear()
    ImportBatch.objects.filter(pk=batch_id).update(job="", job_error=error[:500])
    return {"batch": batch_id, "ran": True, "job": job, "done": done, "error": error}
