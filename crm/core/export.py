"""Export of a list's current search to Excel (xlsxwriter, constant memory), masked per role."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter
from django.utils.html import strip_tags
from django.utils.safestring import SafeString

from .lists import Column, display


def write_xlsx(title: str, columns: Sequence[Column], rows: Iterable[Any], *, unmasked: bool) -> tuple[bytes, int]:
    """The workbook's bytes and the number of data rows written."""
    buffer = io.BytesIO()
    # Rows go to a temporary file as they are written: memory stays flat for 100,000 rows (``in_memory`` would
    # turn ``constant_memory`` off and hold the whole sheet).
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True})
    sheet = book.add_worksheet(str(title)[:31])
    head = book.add_format({"bold": True, "bg_color": "#E9ECEF", "border": 1})
    for c, col in enumerate(columns):
        sheet.write_string(0, c, str(col.label), head)
        sheet.set_column(c, c, 18)
    n = 0
    for n, obj in enumerate(rows, start=1):
        for c, col in enumerate(columns):
            value = col.value(obj, unmasked=unmasked)
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                sheet.write_number(n, c, value)  # amounts and points stay numbers: the club sums them
            elif isinstance(value, SafeString):  # a cell drawn as HTML on screen (a badge): its words alone
                sheet.write_string(n, c, " ".join(strip_tags(value).split()))
            else:
                # Always text: mobile, ID and account numbers must never become numbers in Excel.
                sheet.write_string(n, c, display(value))
    sheet.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue(), n
