"""积分调整 (a manual points adjustment) is an application form of the approval engine: approved, its effect
credits or debits the member's points in the approving transaction."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from crm.customers.models import Customer
from crm.workflow.registry import FormType, Source, form_types

from . import services
from .forms import PointsAdjustmentForm
from .models import APPLY_ADJUSTMENT, PointsAdjustment

POINTS_ADJUST = "points_adjust"


def _describe(customer: Customer) -> str:
    return f"{customer.name} {customer.card_no or ''}".strip()


form_types.register(
    FormType(
        key=POINTS_ADJUST,
        label=_("积分调整"),
        model=PointsAdjustment,
        form_class=PointsAdjustmentForm,
        effect=services.points_adjust_approved,
        approve_label=_("通过"),
        create_permission=APPLY_ADJUSTMENT,
        condition_fields=("points", "magnitude"),
        title=lambda adj: f"{_('积分调整')}:{adj.customer.name} {adj.points:+d}",
        sources=(
            Source(
                key="customer",
                label=_("客户"),
                queryset=lambda user: Customer.objects.formal().for_user(user).order_by("-created_at", "-id"),
                prefill=lambda c: {"customer": c.card_no or c.mobile},
                describe=_describe,
            ),
        ),
    )
)
