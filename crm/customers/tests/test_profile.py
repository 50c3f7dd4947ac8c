"""The customer profile as its viewers see it: masked numbers, the checks of its inline rows, confirmations."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from crm.core.models import DictItem
from crm.customers.models import Customer
from crm.workflow.models import Application

pytestmark = pytest.mark.django_db

MOBILE, ID_NUMBER = "13912345678", "110101198001010053"


def _register(client: Any) -> Application:
    """张伟 registers a customer; the registration waits for 李明's review."""
    source = DictItem.objects.get(dict_type__code="customer_source", label="转介绍").pk
    data = {"_action": "submit", "name": "钱多多", "gender": "M", "mobile": MOBILE, "id_number": ID_NUMBER}
    r = client.post(reverse("workflow:create", args=["customer"]), {**data, "source": source})
    assert r.status_code == 302, r.content.decode()[:2000]
    return Application.objects.get()


def _approve(client_for: Any, app: Application) -> None:
    for who in ("李明", "王建国"):
        r = client_for(who).post(reverse("workflow:detail", args=[app.pk]), {"_action": "approve", "opinion": "同意"})
        assert r.status_code == 302


def test_numbers_are_masked_on_pages_as_in_lists_except_for_the_owner_and_the_applicant(
    client_for: Any, people: dict[str, Any]
) -> None:
    zhang, li = client_for("张伟"), client_for("李明")
    app = _register(zhang)
    review = reverse("workflow:detail", args=[app.pk])
    page = li.get(review).content.decode()
    assert "139****5678" in page and "110101********0053" in page
    assert MOBILE not in page and ID_NUMBER not in page
    assert MOBILE in zhang.get(review).content.decode()  # the applicant sees what he typed
    _approve(client_for, app)
    customer = Customer.objects.get(application=app)
    profile = reverse("customers:customer_detail", args=[customer.pk])
    page = li.get(profile).content.decode()
    assert "139****5678" in page and MOBILE not in page and ID_NUMBER not in page
    assert MOBILE in client_for("管理员").get(profile).content.decode()  # 查看完整手机号与身份证号
    own = zhang.get(profile).content.decode()  # the owner calls and corrects them
    assert MOBILE in own and ID_NUMBER in own
    # what the owner saves is what he typed; a leader's page never posts the mask back
    customer.refresh_from_db()
    assert (customer.mobile, customer.id_number) == (MOBILE, ID_NUMBER)
