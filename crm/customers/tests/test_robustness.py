"""Every action of a lead's and a customer's page, by the owner, a leader and a stranger, with hostile data:
a message or a refusal, never a 500, and nothing changed by what was refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.core.tests.test_robustness import NASTY
from crm.customers.models import Customer, CustomerStatus, Lead, LeadStatus

pytestmark = pytest.mark.django_db

ACTIONS = ["save", "followup", "close", "handover", "assign", "hobbies", "parts", "nonsense", ""]
FIELDS = [
    "basic-name",
    "basic-mobile",
    "basic-id_number",
    "basic-birthday",
    "basic-source",
    "basic-gender",
    "fu-at",
    "fu-method",
    "fu-content",
    "fu-next_on",
    "fu-intent",
    "cl-reason",
    "cl-note",
    "ho-reason",
    "as-to",
    "as-reason",
    "hobby-hobbies",
    "_part",
    "_tab",
    "properties-TOTAL_FORMS",
    "properties-INITIAL_FORMS",
    "properties-0-area",
    "vehicles-TOTAL_FORMS",
    "family-TOTAL_FORMS",
]


def test_customer_pages_with_hostile_input(client_for: Any, people: dict[str, Any]) -> None:
    zhang = people["张伟"]
    common = {"owner": zhang, "department": zhang.department, "registered_by": zhang, "owned_since": timezone.now()}
    lead = Lead.objects.create(name="钱多多", mobile="13912345678", status=LeadStatus.FOLLOWING, **common)
    customer = Customer.objects.create(name="孙总", mobile="13600000001", status=CustomerStatus.FORMAL, **common)
    urls = [reverse("customers:lead_detail", args=[lead.pk]), reverse("customers:customer_detail", args=[customer.pk])]
    for who in ("张伟", "李明", "刘洋"):
        c = client_for(who)
        for url in urls:
            for action in ACTIONS:
                for value in NASTY:
                    data = {"_action": action, **dict.fromkeys(FIELDS, value)}
                    assert c.post(url, data).status_code < 500, (who, url, action, value)
    lead.refresh_from_db()
    customer.refresh_from_db()
    # (【移交】 needs nothing but the owner's press, so the records may have changed hands: that is no refusal.)
    assert (lead.name, lead.mobile, customer.name, customer.mobile) == ("钱多多", "13912345678", "孙总", "13600000001")
    assert not lead.followups.exists() and not customer.properties.exists() and not customer.hobbies.exists()
