"""The loyalty pages people read: 会员管理 › 消费记录 and 积分流水 (generic lists through the data scope), one
consumption with its refunds and points, and the customer's 消费记录 and 积分 tabs (registered with the
customer's page in ``menus.py``; the customer has been read through the viewer's scope before they are drawn).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.lists import Column, KeysetPaginator, capped_count
from crm.core.views_base import Button, CrmView, ObjectListView
from crm.customers.models import Customer

from . import selectors
from .filters import ConsumptionFilterForm, PointsEntryFilterForm
from .models import Consumption, PointsEntry

LEDGER_PAGE = 50  # entries of the 积分 tab per page: one index range of (account, -created_at, -id)
CONSUMPTION_PAGE = 20  # sales of the 消费记录 tab per page, each with its refunds


# ---------------------------------------------------------------------------------------------------
# Links
# ---------------------------------------------------------------------------------------------------


CUSTOMER_VIEW = "customers.view_customer"  # what a link to a member's profile needs


def customer_url(customer_id: int, tab: str = "") -> str:
    url = reverse("customers:customer_detail", args=[customer_id])
    return f"{url}?{urlencode({'tab': tab})}" if tab else url


def consumption_label(consumption: Consumption) -> str:
    number = consumption.order_no or f"#{consumption.pk}"
    return _("退款 %(no)s") % {"no": number} if consumption.is_refund else _("消费 %(no)s") % {"no": number}


def entry_source(entry: PointsEntry) -> tuple[str, str | None]:
    """(text, address) of where a ledger entry came from: its consumption (or refund), the approved
    application that made it, or the POS system that redeemed it."""
    if entry.consumption_id is not None:
        assert entry.consumption is not None
        return consumption_label(entry.consumption), reverse("loyalty:consumption_detail", args=[entry.consumption_id])
    ref = entry.source_ref
    if ref.startswith("application:") and ref[12:].isdigit() and len(ref) < 32:
        return _("申请单 #%(id)s") % {"id": ref[12:]}, reverse("workflow:detail", args=[int(ref[12:])])
    if ref == "pos":
        return _("收银系统"), None
    if ref.startswith("pos:"):
        return _("收银系统 %(no)s") % {"no": entry.order_no}, None
    return ref, None


def _entry_source_text(entry: PointsEntry) -> str:
    return entry_source(entry)[0]


def _entry_source_href(entry: PointsEntry) -> str | None:
    return entry_source(entry)[1]


def _refund_of(c: Consumption) -> str:
    return consumption_label(c.refund_of) if c.refund_of is not None else ""


# ---------------------------------------------------------------------------------------------------
# 会员管理 › 消费记录 / 积分流水
# ---------------------------------------------------------------------------------------------------


class ConsumptionListView(ObjectListView):
    """〖消费记录〗: sales and refunds of the customers in the user's data scope."""

    model = Consumption
    title = gettext_lazy("消费记录")
    tab_key = "consumptions"
    permission = "loyalty.view_consumption"
    export_permission = "loyalty.export_consumption"
    filter_form_class = ConsumptionFilterForm
    default_sort = "-occurred_at"
    detail_url_name = "loyalty:consumption_detail"
    toolbar = [
        Button(
            gettext_lazy("新增"),
            "loyalty:consumption_create",
            "loyalty.add_consumption",
            "bi-plus-lg",
            gettext_lazy("消费录入"),
        ),
        Button(
            gettext_lazy("导入"),
            "loyalty:consumption_import",
            "loyalty.import_consumption",
            "bi-upload",
            gettext_lazy("导入消费记录"),
        ),
    ]
    select_related = ("customer", "operator", "refund_of")
    keys_first = True  # the scope is the customer's: see KeysetPaginator
    columns = [
        Column("occurred_at", gettext_lazy("消费时间"), sort="occurred_at"),
        Column(
            "customer",
            gettext_lazy("客户"),
            accessor="customer.name",
            href=lambda c: customer_url(c.customer_id, "consumption"),
            href_permission=CUSTOMER_VIEW,
        ),
        Column("card_no", gettext_lazy("会员卡号"), accessor="customer.card_no"),
        Column("mobile", gettext_lazy("手机号"), accessor="customer.mobile", mask="mobile"),
        Column("amount", gettext_lazy("金额(元)"), sort="amount"),
        Column("category", gettext_lazy("消费类别"), accessor="get_category_display"),
        Column("venue", gettext_lazy("消费场所")),
        Column("order_no", gettext_lazy("订单号")),
        Column("payment", gettext_lazy("支付方式"), accessor="get_payment_display"),
        Column("source", gettext_lazy("来源"), accessor="get_source_display"),
        Column(
            "refund_of",
            gettext_lazy("原消费"),
            accessor=_refund_of,
            href=lambda c: reverse("loyalty:consumption_detail", args=[c.refund_of_id]) if c.refund_of_id else None,
        ),
        Column(
            "operator",
            gettext_lazy("录入人"),
            accessor="recorded_by",
        ),
    ]

    def get_queryset(self, action: str = "view") -> QuerySet:
        return selectors.consumptions_for(self.request.user, action).select_related(*self.select_related)

    def row_title(self, obj: Any) -> str:
        return f"{obj.customer.name} {consumption_label(obj)}"


class PointsEntryListView(ObjectListView):
    """〖积分流水〗: every movement of the points of the customers in the user's data scope."""

    model = PointsEntry
    title = gettext_lazy("积分流水")
    tab_key = "points_entries"
    permission = "loyalty.view_pointsentry"
    export_permission = "loyalty.export_pointsentry"
    filter_form_class = PointsEntryFilterForm
    default_sort = "-created_at"
    select_related = ("account__customer", "consumption", "created_by")
    keys_first = True  # the scope is the customer's: see KeysetPaginator
    columns = [
        Column("created_at", gettext_lazy("时间"), sort="created_at"),
        Column(
            "customer",
            gettext_lazy("客户"),
            accessor="account.customer.name",
            href=lambda e: customer_url(e.account.customer_id, "points"),
            href_permission=CUSTOMER_VIEW,
        ),
        Column("card_no", gettext_lazy("会员卡号"), accessor="account.customer.card_no"),
        Column("kind", gettext_lazy("类型"), accessor="get_kind_display"),
        Column("points", gettext_lazy("积分"), sort="points"),
        Column("balance_after", gettext_lazy("变动后余额")),
        Column("source", gettext_lazy("来源"), accessor=_entry_source_text, href=_entry_source_href),
        Column("reason", gettext_lazy("事由")),
        Column(
            "created_by",
            gettext_lazy("经办人"),
            accessor="done_by",
        ),
    ]

    def get_queryset(self, action: str = "view") -> QuerySet:
        return selectors.entries_for(self.request.user, action).select_related(*self.select_related)

    def detail_url(self, obj: Any) -> str | None:
        # an entry is read on its member's 积分 tab; without the customer pages, on its consumption (if any)
        if self.request.user.has_perm(CUSTOMER_VIEW):
            return customer_url(obj.account.customer_id, "points")
        return _entry_source_href(obj) if obj.consumption_id else None

    def row_title(self, obj: Any) -> str:
        return str(obj.account.customer.name)


# ---------------------------------------------------------------------------------------------------
# One consumption
# ---------------------------------------------------------------------------------------------------


class ConsumptionDetailView(CrmView):
    """A sale with its refunds (or a refund with its sale), and the points each of them moved."""

    permission = "loyalty.view_consumption"
    title: Any = gettext_lazy("消费记录")

    def get_tab_key(self) -> str:
        return reverse("loyalty:consumption_detail", args=[self.kwargs["pk"]])

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        qs = selectors.consumptions_for(request.user).select_related("operator", "refund_of__operator")
        obj = get_object_or_404(qs, pk=pk)
        sale = obj.refund_of if obj.refund_of is not None else obj
        refunds = list(
            Consumption.objects.filter(refund_of=sale).select_related("operator").order_by("occurred_at", "id")
        )
        entries = (
            PointsEntry.objects.filter(consumption__in=[sale.pk, *(r.pk for r in refunds)])
            .select_related("created_by")
            .order_by("created_at", "id")
        )
        self.title = f"{obj.customer.name} {consumption_label(obj)}"
        profiles = request.user.has_perm(CUSTOMER_VIEW)
        context = {
            "obj": obj,
            "sale": sale,
            "refunds": refunds,
            "entries": entries,
            "refunded": -sum((r.amount for r in refunds), Decimal("0.00")),
            # the member's pages, for those who may open them
            "customer_url": customer_url(obj.customer_id, "consumption") if profiles else "",
            "points_url": customer_url(obj.customer_id, "points") if profiles else "",
            "url": self.get_tab_key(),
        }
        return self.render_page("loyalty/list_consumption_detail.html", context)


# ---------------------------------------------------------------------------------------------------
# The customer's tabs
# ---------------------------------------------------------------------------------------------------


def _tab_url(customer: Customer, key: str) -> str:
    return reverse("customers:customer_tab", args=[customer.pk, key])


def points_tab(request: HttpRequest, customer: Customer) -> str:
    """积分: balance, level (since when), what expires within 30 and 90 days, the level history, and the ledger
    newest first, one page of ``LEDGER_PAGE`` entries at a time (a next page is the rows alone)."""
    account = selectors.account_of(customer)
    url = _tab_url(customer, "points")
    after = request.GET.get("after") or None
    page = None
    if account is not None:
        page = KeysetPaginator(selectors.ledger(account), "created_at", True, LEDGER_PAGE).page(after=after)
    rows = [(e, *entry_source(e)) for e in (page.rows if page else [])]
    context: dict[str, Any] = {"customer": customer, "rows": rows, "page": page, "url": url}
    if after:
        return render_to_string("loyalty/tab_points.html#rows", context, request=request)
    today = timezone.localdate()
    soon = selectors.expiring(customer, days=90, today=today)  # one query: the 30 days are a part of the 90
    within_30 = sum(points for day, points in soon.by_date if (day - today).days <= 30)
    count, more = capped_count(selectors.ledger(account)) if account is not None else (0, False)
    context.update(
        {
            "account": account,
            "balance": account.balance if account is not None else 0,
            "level": account.level if account is not None else selectors.lowest_level(),
            "is_member": selectors.is_member(customer),
            "expiring_30": within_30,
            "expiring_90": soon.total,
            "expiring_dates": soon.by_date[:6],
            "level_changes": list(selectors.level_history(account)[:100]) if account is not None else [],
            "count": count,
            "count_more": more,
        }
    )
    if context["is_member"] and request.user.has_perm("loyalty.view_memberlevel"):
        context["progress"] = selectors.level_progress(customer, context["level"])
    return render_to_string("loyalty/tab_points.html", context, request=request)


def consumption_tab(request: HttpRequest, customer: Customer) -> str:
    """消费记录: the customer's sales newest first, each with the refunds made against it and the points they
    moved; ``CONSUMPTION_PAGE`` sales at a time."""
    url = _tab_url(customer, "consumption")
    after = request.GET.get("after") or None
    sales = selectors.customer_consumptions(customer).filter(refund_of__isnull=True)
    page = KeysetPaginator(sales, "occurred_at", True, CONSUMPTION_PAGE).page(after=after)
    ids = [c.pk for c in page.rows]
    refunds: dict[int, list[Consumption]] = {}
    for r in Consumption.objects.filter(refund_of__in=ids).select_related("operator").order_by("occurred_at", "id"):
        assert r.refund_of_id is not None
        refunds.setdefault(r.refund_of_id, []).append(r)
    points: dict[int, int] = {}
    moved = PointsEntry.objects.filter(consumption__in=[*ids, *(r.pk for rs in refunds.values() for r in rs)])
    for consumption_id, n in moved.values_list("consumption_id", "points"):
        points[consumption_id] = points.get(consumption_id, 0) + n
    rows = [
        {
            "sale": c,
            "points": points.get(c.pk),
            "refunds": [(r, points.get(r.pk)) for r in refunds.get(c.pk, [])],
            "refunded": -sum((r.amount for r in refunds.get(c.pk, [])), Decimal("0.00")),
        }
        for c in page.rows
    ]
    context: dict[str, Any] = {"customer": customer, "rows": rows, "page": page, "url": url}
    if after:
        return render_to_string("loyalty/tab_consumption.html#rows", context, request=request)
    count, more = capped_count(sales)
    months = selectors.loyalty_settings().window_months
    context.update(
        {
            "is_member": selectors.is_member(customer),
            "net": selectors.rolling_net(customer, months=months),
            "window_months": months,
            "count": count,
            "count_more": more,
        }
    )
    return render_to_string("loyalty/tab_consumption.html", context, request=request)
