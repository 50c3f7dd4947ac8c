"""The loyalty pages people write with: 系统管理 › 积分规则 (the rules and the member levels), 消费录入 (a sale
entered by hand), 【退款】 of one sale, and 【导入】 of consumption from a spreadsheet.

Each page parses its form, calls one service (or the import's preview, commit and undo) and renders; a refusal
of the service is shown as a form error with status 422, and nothing is written.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.views_base import CrmView

from . import imports, selectors, services
from .errors import LoyaltyError
from .forms import ConsumptionForm, LevelFormSet, RefundForm, RulesForm
from .models import Consumption, ConsumptionSource, MemberLevel, PointsEntry


def _now_local() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


def _refused(form: Any, exc: LoyaltyError) -> None:
    form.add_error(None, " ".join(exc.messages))


# ---------------------------------------------------------------------------------------------------
# 系统管理 › 积分规则
# ---------------------------------------------------------------------------------------------------


class RulesView(CrmView):
    """The points rules (window, rounding, expiry) and the member levels, saved at once by ``rules_update``."""

    permission = "loyalty.view_loyaltysettings"
    title = gettext_lazy("积分规则")
    tab_key = "loyalty-rules"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(*self.unbound())

    def unbound(self) -> tuple[RulesForm, Any]:
        rules = selectors.loyalty_settings()
        initial = [
            {"id": lv.pk, "name": lv.name, "rank": lv.rank, "threshold": lv.threshold, "multiplier": lv.multiplier}
            for lv in MemberLevel.objects.order_by("rank")
        ]
        return RulesForm(instance=rules), LevelFormSet(initial=initial, prefix="levels")

    def post(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("loyalty.change_loyaltysettings"):
            messages.error(request, _("您没有修改积分规则的权限。"))
            return self.show(*self.unbound(), status=403)
        form = RulesForm(request.POST, instance=selectors.loyalty_settings())
        levels = LevelFormSet(request.POST, prefix="levels")
        if not (form.is_valid() and levels.is_valid()):
            return self.show(form, levels, status=422)
        existing = {lv.pk: lv for lv in MemberLevel.objects.all()}
        rows: list[tuple[MemberLevel | None, dict[str, Any]]] = []
        delete: list[MemberLevel] = []
        for f in levels.forms:
            data = f.cleaned_data
            if not data:
                continue  # the empty row for a new level, left empty
            pk = data.get("id")
            level = existing.get(pk) if pk is not None else None
            if pk is not None and level is None:
                form.add_error(None, _("这个会员等级已被删除,请刷新后重试。"))
                return self.show(form, levels, status=422)
            if data.get("DELETE"):
                if level is not None:
                    delete.append(level)
                continue
            fields = {k: data[k] for k in ("name", "rank", "threshold", "multiplier")}
            if level is not None and all(getattr(level, k) == v for k, v in fields.items()):
                continue  # unchanged
            rows.append((level, fields))
        try:
            services.rules_update(
                actor=request.user,
                window_months=form.cleaned_data["window_months"],
                rounding=form.cleaned_data["rounding"],
                expiry_months=form.cleaned_data["expiry_months"],
                levels=rows,
                delete=delete,
                request=request,
            )
        except LoyaltyError as exc:
            _refused(form, exc)
            return self.show(form, levels, status=422)
        messages.success(request, _("积分规则已保存。"))
        response = self.show(*self.unbound())
        response["HX-Trigger"] = "crm:changed"
        return response

    def show(self, form: RulesForm, levels: Any, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "levels": levels,
            "can_edit": self.request.user.has_perm("loyalty.change_loyaltysettings"),
        }
        return self.render_page("loyalty/manage_rules.html", context, status=status)


# ---------------------------------------------------------------------------------------------------
# 消费录入
# ---------------------------------------------------------------------------------------------------


class ConsumptionCreateView(CrmView):
    """A sale entered by hand (source 手工), for a member within the user's data scope. After a save the form is
    empty again for the next one, and the message links the record."""

    permission = "loyalty.add_consumption"
    title = gettext_lazy("消费录入")
    tab_key = "loyalty-consumption-new"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(self.empty())

    def empty(self) -> ConsumptionForm:
        return ConsumptionForm(user=self.request.user, initial={"occurred_at": _now_local()})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ConsumptionForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.show(form, status=422)
        data = form.cleaned_data
        customer = data["customer"]
        before = selectors.level_of(customer)
        try:
            record = services.consumption_record(
                customer=customer,
                amount=data["amount"],
                category=data["category"],
                source=ConsumptionSource.MANUAL,
                occurred_at=data["occurred_at"],
                venue=data.get("venue") or "",
                order_no=data.get("order_no") or "",
                payment=data.get("payment") or "",
                operator=request.user,
                note=data.get("note") or "",
                request=request,
            )
        except LoyaltyError as exc:
            _refused(form, exc)
            return self.show(form, status=422)
        text = _("已登记「%(name)s」消费 %(amount)s 元,积分 +%(points)s,现有积分 %(balance)s。") % {
            "name": customer.name,
            "amount": f"{record.amount:,.2f}",
            "points": f"{record.points_earned:,}",
            "balance": f"{record.balance_after:,}",
        }
        if record.level_after.pk != before.pk:
            text += _("会员等级升为「%(level)s」。") % {"level": record.level_after.name}
        messages.success(request, text)
        response = self.show(self.empty(), saved=record)
        response["HX-Trigger"] = "crm:changed"
        return response

    def show(self, form: ConsumptionForm, status: int = 200, saved: Consumption | None = None) -> HttpResponse:
        context = {
            "form": form,
            "saved": saved,
            "saved_url": reverse("loyalty:consumption_detail", args=[saved.pk]) if saved else "",
            "can_import": self.request.user.has_perm(imports.PERMISSION),
        }
        return self.render_page("loyalty/manage_consumption.html", context, status=status)


# ---------------------------------------------------------------------------------------------------
# 【退款】
# ---------------------------------------------------------------------------------------------------


class ConsumptionRefundView(CrmView):
    """【退款】 of one sale within the user's data scope: a negative record referencing it, and the reversal of
    the points it earned (``services.consumption_refund``)."""

    permission = "loyalty.refund_consumption"
    title: Any = gettext_lazy("退款")

    def get_tab_key(self) -> str:
        return reverse("loyalty:consumption_refund", args=[self.kwargs["pk"]])

    def get_object(self) -> Consumption:
        qs = selectors.consumptions_for(self.request.user, "change").select_related("refund_of")
        return get_object_or_404(qs, pk=self.kwargs["pk"])

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        sale = self.get_object()
        return self.show(sale, self.blank_form(sale))

    @staticmethod
    def blank_form(sale: Consumption) -> RefundForm:
        """The form as first shown, and again after a refund: what is left to refund, and now."""
        left = selectors.refundable_amount(sale) if not sale.is_refund else Decimal("0.00")
        return RefundForm(initial={"amount": left if left > 0 else None, "occurred_at": _now_local()})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        sale = self.get_object()
        form = RefundForm(request.POST)
        if not form.is_valid():
            return self.show(sale, form, status=422)
        data = form.cleaned_data
        when = data["occurred_at"]
        if sale.occurred_at - timedelta(minutes=1) < when < sale.occurred_at:
            when = sale.occurred_at  # the form is to the minute: a refund in the sale's minute is not before it
        try:
            refund = services.consumption_refund(
                original=sale,
                amount=data["amount"],
                source=ConsumptionSource.MANUAL,
                occurred_at=when,
                order_no=data.get("order_no") or "",
                operator=request.user,
                note=data.get("note") or "",
                request=request,
            )
        except LoyaltyError as exc:
            _refused(form, exc)
            return self.show(sale, form, status=422)
        taken = -sum(PointsEntry.objects.filter(consumption=refund).values_list("points", flat=True))
        messages.success(
            request,
            _("已登记退款 %(amount)s 元,扣回积分 %(points)s。")
            % {"amount": f"{-refund.amount:,.2f}", "points": f"{taken:,}"},
        )
        response = self.show(sale, self.blank_form(sale))
        response["HX-Trigger"] = "crm:changed"
        return response

    def show(self, sale: Consumption, form: RefundForm, status: int = 200) -> HttpResponse:
        self.title = _("退款 %(name)s %(no)s") % {"name": sale.customer.name, "no": sale.order_no or f"#{sale.pk}"}
        refunds = list(Consumption.objects.filter(refund_of=sale).select_related("operator").order_by("id"))
        earn = selectors.earn_entry(sale) if not sale.is_refund else None
        context = {
            "sale": sale,
            "form": form,
            "refunds": refunds,
            "refundable": selectors.refundable_amount(sale) if not sale.is_refund else Decimal("0.00"),
            "earned": earn.points if earn is not None else 0,
            "reversed": selectors.reversed_points(earn) if earn is not None else 0,
            "detail_url": reverse("loyalty:consumption_detail", args=[sale.pk]),
        }
        return self.render_page("loyalty/manage_refund.html", context, status=status)
