"""流程信息 of an imported record: the import's row says to whom the import gave it (「给」)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from crm.customers import imports, services
from crm.customers.models import Customer, Lead
from crm.customers.tests.test_imports import xlsx

pytestmark = pytest.mark.django_db

COLUMNS = ("时间", "操作", "处理人", "从", "给", "说明")


def _history_rows(client: Any, url: str) -> list[dict[str, str]]:
    """The rows of the 流程信息 table, cell by cell under its headings."""
    page = client.get(url, {"tab": "history"}).content.decode()
    table = page.split('data-testid="handovers"')[1].split("</table>")[0]
    body = table.split("<tbody>")[1]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td>(.*?)</td>", tr, re.S)]
        rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


def _import(actor: Any, kind: str, rows: list[list[Any]]) -> Any:
    batch = imports.preview(actor=actor, kind=imports.KINDS[kind], data=xlsx(rows), filename="名单.xlsx")
    return imports.commit(actor=actor, batch=batch)


def test_the_import_row_names_the_owner_the_import_gave_the_customer_to(client_for: Any, people: Any) -> None:
    batch = _import(people["王建国"], "customer", [["姓名", "手机号", "负责人"], ["蒋二", "13800000051", "张伟"]])
    customer = Customer.objects.get(import_batch=batch)
    url = reverse("customers:customer_detail", args=[customer.pk])
    [row] = _history_rows(client_for("张伟"), url)
    assert (row["操作"], row["处理人"], row["给"]) == ("导入", "王建国", "张伟")
    # handed on since: the import's row still names whom the import gave it to, the 【移交】 row the leader
    services.hand_over(actor=people["张伟"], obj=customer, reason="出差")
    imported, handed = _history_rows(client_for("李明"), url)
    assert (imported["操作"], imported["给"]) == ("导入", "张伟")
    assert (handed["操作"], handed["从"], handed["给"]) == ("移交", "张伟", "李明")


def test_an_import_without_an_owner_column_gives_the_record_to_the_importer(client_for: Any, people: Any) -> None:
    batch = _import(people["张伟"], "lead", [["姓名", "手机号"], ["蒋三", "13800000052"]])
    lead = Lead.objects.get(import_batch=batch)
    [row] = _history_rows(client_for("张伟"), reverse("customers:lead_detail", args=[lead.pk]))
    assert (row["操作"], row["处理人"], row["给"]) == ("导入", "张伟", "张伟")
