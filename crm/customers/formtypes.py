"""The two application forms of the customer module, registered with the approval engine."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from crm.workflow.registry import FormType, Source, form_types

from . import selectors, services
from .forms import CustomerForm, LeadForm
from .models import Customer, Lead

LEAD = "lead"
CUSTOMER = "customer"


def _lead_prefill(lead: Lead) -> dict[str, Any]:
    """【转客户】/【来源数据】: what a customer registration takes over from the lead."""
    return {
        "name": lead.name,
        "gender": lead.gender,
        "mobile": lead.mobile,
        "company": lead.company,
        "title": lead.title,
        "source": lead.source_id,
        "note": lead.note,
        "lead": lead.pk,
    }


form_types.register(
    FormType(
        key=LEAD,
        label=_("潜在客户"),
        model=Lead,
        form_class=LeadForm,
        effect=services.lead_assigned,
        approve_label=_("分配"),
        create_permission="customers.add_lead",
        title=lambda lead: f"{_('潜在客户')}:{lead.name}",
    )
)

form_types.register(
    FormType(
        key=CUSTOMER,
        label=_("客户登记"),
        model=Customer,
        form_class=CustomerForm,
        effect=services.customer_approved,
        approve_label=_("提交"),
        create_permission="customers.add_customer",
        title=lambda c: f"{_('客户登记')}:{c.name}",
        sources=(
            Source(
                key="lead",
                label=_("潜在客户"),
                queryset=lambda user: selectors.leads_to_convert(user).order_by("-created_at"),
                prefill=_lead_prefill,
                describe=lambda lead: f"{lead.name} {lead.mobile[:3]}****{lead.mobile[-4:]}",
            ),
        ),
    )
)
