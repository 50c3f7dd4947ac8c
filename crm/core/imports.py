"""The import framework: read a spreadsheet as the club's staff produce it, find its header, clean its cells.

A file may be .xlsx, .xls or .csv (UTF-8 with or without BOM, or GBK); it may have title rows above the
header and totals below the data; header names may carry spaces, TABs, U+3000 and full-width brackets;
numbers typed into Excel come back as floats. Everything that is wrong with a file is a ``ImportFileError``
with a sentence for the person, never an exception from a library.

A domain app describes its columns (``ImportColumn``), validates rows and writes them; this module does the
reading (``read_table``) and the parts every import shares (the template, the problem report).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import xlsxwriter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_SPACES = re.compile(r"[\s\u3000\ufeff]+")
_WIDE = str.maketrans("（）［］：０１２３４５６７８９", "()[]:0123456789")


class ImportFileError(ValidationError):
    """A file that cannot be imported at all; the message says why and what to do."""


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


def clean_header(text: Any) -> str:
    return _SPACES.sub("", str(text or "")).translate(_WIDE).strip("*").strip()


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


def _read_workbook(data: bytes) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not book.sheet_names:
            raise ImportFileError(_("文件里没有工作表。"))
        return book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except ImportFileError:
        raise
    except Exception:
        raise ImportFileError(_("无法读取这个 Excel 文件(可能已损坏或加了密码);请另存为 .xlsx 后重试。")) from None


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("无法识别文件的编码;请另存为 UTF-8 或 GBK 编码的 CSV,或 Excel 文件。"))


def _read_csv(data: bytes) -> list[list[Any]]:
    if b"\x00" in data[:4096]:
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


def read_rows(data: bytes, filename: str = "") -> list[list[Any]]:
    """All rows of the file's first sheet (or of the CSV), cells cleaned."""
    _check_size(data)
    if data[:4] == b"PK\x03\x04":
        _check_zip(data)
        raw = _read_workbook(data)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":  # an .xls (OLE2 compound file)
        raw = _read_workbook(data)
    elif filename.lower().endswith((".xlsx", ".xls", ".xlsm")):
        raise ImportFileError(_("文件扩展名是 Excel,但内容不是 Excel 文件;请重新导出后上传。"))
    else:
        raw = _read_csv(data)
    return [[clean_cell(c) for c in row] for row in raw]


def read_table(data: bytes, filename: str, columns: Sequence[ImportColumn]) -> Table:
    """The file's rows under the header the columns recognise. The header is the first of the top rows that
    names every required column; rows above it are titles, blank rows and totals rows below are skipped."""
    rows = read_rows(data, filename)
    required = [c for c in columns if c.required]
    by_name = {name: c for c in columns for name in c.names()}
    header_at, mapping = -1, {}
    for i, row in enumerate(rows[:30]):
        found = {j: by_name[clean_header(cell)] for j, cell in enumerate(row) if clean_header(cell) in by_name}
        keys = {c.key for c in found.values()}
        if all(c.key in keys for c in required) and len(found) >= min(2, len(columns)):
            header_at, mapping = i, found
            break
    if header_at < 0:
        raise ImportFileError(
            _("找不到表头:表头须包含「%(cols)s」。请下载导入模板,按模板的列填写。")
            % {"cols": "、".join(c.label for c in required)}
        )
    limit = settings.CRM_IMPORT_MAX_ROWS
    table = Table(columns=list(columns), header_line=header_at + 1)
    for i, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        values = {mapping[j].key: v for j, v in enumerate(row) if j in mapping}
        if all(v in ("", None) for v in values.values()):
            continue
        first = str(next(iter(row), "") or "")
        if first.startswith(("合计", "总计", "#")):
            continue
        table.rows.append((i, values))
        if len(table.rows) > limit:
            raise ImportFileError(_("文件超过 %(n)d 行,请分成几个文件导入。") % {"n": limit})
    if not table.rows:
        raise ImportFileError(_("表头下面没有数据行。"))
    return table


# ---------------------------------------------------------------------------------------------------
# Cells to values
# ---------------------------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s.*)?$")


def as_date(value: Any) -> date | None:
    """A date from a cell: a real date, 2020-01-31, 2020/1/31, 2020年1月31日 or 20200131. ``None`` for
    empty; ``ValueError`` when it is not a date."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
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


def problems_xlsx(title: str, problems: Sequence[dict[str, Any]]) -> bytes:
    """The rows that were not imported, with the reasons: a file to fix and import again."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet(title[:31])
    head = book.add_format({"bold": True, "bg_color": "#E9ECEF", "border": 1})
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
