"""积分调整 (a manual points adjustment) is an application form of the approval engine: approved, its effect
credits or debits the member's points in the approving transaction."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.customers.models import Customer
from crm.workflow.registry import FormType, Source, form_types

from . import selectors, services
from .forms import PointsAdjustmentForm
from .models import APPLY_ADJUSTMENT, PointsAdjustment
from .views import CUSTOMER_VIEW, customer_url

POINTS_ADJUST = "points_adjust"


def _describe(customer: Customer) -> str:
    return f"{customer.name} {customer.card_no or ''}".strip()


def _summary(adjustment: PointsAdjustment, user: Any) -> list[tuple[Any, str, str]]:
    """What an approver weighs a 积分调整 against: the member (his 积分 tab, when within reach), his level, his
    points now and what they would be after it."""
    member = adjustment.customer
    account = selectors.account_of(member)
    level = account.level if account is not None else selectors.lowest_level()
    now = account.balance if account is not None else 0
    after = now + adjustment.points
    reachable = user.has_perm(CUSTOMER_VIEW) and Customer.objects.for_user(user).filter(pk=member.pk).exists()
    short = gettext("不够扣减,还差 %(short)s") % {"short": f"{-after:,}"}
    after_text = f"{after:,}" if after >= 0 else short
    return [
        (_("会员"), _describe(member), customer_url(member.pk, "points") if reachable else ""),
        (_("会员等级"), level.name, ""),
        (_("现有积分"), f"{now:,}", ""),
        (_("调整后积分"), after_text, ""),
    ]


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
        title=lambda adj: f"{_('积分调整')}:{adj.customer.name} {adj.points:+,d}",
        summary=_summary,
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
