"""The customer page's registry of tabs added by later apps (``crm.customers.tabs``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from crm.customers.models import Customer, CustomerStatus
from crm.customers.tabs import profile_tabs

pytestmark = pytest.mark.django_db


@pytest.fixture
def notes_tab() -> Iterator[list[Any]]:
    """A tab of a pretend later app: it records who drew it for which customer."""
    drawn: list[Any] = []

    def render(request: Any, customer: Customer) -> str:
        drawn.append((request.user.username, customer.pk, request.GET.get("page", "")))
        return format_html('<p data-testid="notes">{}的备注 {}</p>', customer.name, request.GET.get("page", "1"))

    profile_tabs.register("notes_test", "备注测试", "customers.view_customer", render, order=1)
    yield drawn
    profile_tabs.unregister("notes_test")


def _customer(owner: Any) -> Customer:
    return Customer.objects.create(
        name="赵总",
        owner=owner,
        department=owner.department,
        registered_by=owner,
        status=CustomerStatus.FORMAL,
        owned_since=timezone.now(),
    )


def test_a_registered_tab_is_drawn_when_opened(notes_tab: list[Any], client_for: Any, people: dict) -> None:
    customer = _customer(people["张伟"])
    zhang = client_for("张伟")
    r = zhang.get(reverse("customers:customer_detail", args=[customer.pk]))
    assert ("notes_test", "备注测试") in r.context["tabs"]
    assert notes_tab == []  # not drawn with the page: a placeholder fetches it when shown
    assert reverse("customers:customer_tab", args=[customer.pk, "notes_test"]) in r.content.decode()
    r = zhang.get(reverse("customers:customer_detail", args=[customer.pk]), {"tab": "notes_test"})
    assert r.context["active_tab"] == "notes_test" and "赵总的备注 1" in r.content.decode()
    r = zhang.get(reverse("customers:customer_tab", args=[customer.pk, "notes_test"]), {"page": "2"})
    assert r.status_code == 200 and r.content.decode() == '<p data-testid="notes">赵总的备注 2</p>'
    assert notes_tab[-1] == ("张伟", customer.pk, "2")


def test_a_tab_of_a_customer_out_of_scope_is_404(notes_tab: list[Any], client_for: Any, people: dict) -> None:
    customer = _customer(people["张伟"])
    url = reverse("customers:customer_tab", args=[customer.pk, "notes_test"])
    assert client_for("刘洋").get(url).status_code == 404
    assert notes_tab == []  # never drawn
    assert client_for("李明").get(url).status_code == 200


def test_unknown_tab_and_built_in_names(notes_tab: list[Any], client_for: Any, people: dict) -> None:
    customer = _customer(people["张伟"])
    zhang = client_for("张伟")
    assert zhang.get(reverse("customers:customer_tab", args=[customer.pk, "nothing"])).status_code == 404
    assert zhang.get(reverse("customers:customer_tab", args=[customer.pk, "basic"])).status_code == 404
    r = zhang.get(reverse("customers:customer_detail", args=[customer.pk]), {"tab": "nothing"})
    assert r.context["active_tab"] == "basic"  # an unknown tab opens the first
    assert zhang.post(reverse("customers:customer_tab", args=[customer.pk, "notes_test"])).status_code == 405
    for key in ("notes_test", "basic", "Not A Key"):
        with pytest.raises(ValueError):
            profile_tabs.register(key, "x", None, lambda request, customer: "")
