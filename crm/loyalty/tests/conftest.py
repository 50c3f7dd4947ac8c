from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from django.utils import timezone

from crm.customers.models import Customer, CustomerStatus
from crm.loyalty import services
from crm.loyalty.models import Consumption, PointsAccount, PointsEntry, PointsLot

_numbers = count(1)


def make_member(owner: Any, name: str = "孙总", status: str = CustomerStatus.FORMAL, **kw: Any) -> Customer:
    n = next(_numbers)
    return Customer.objects.create(
        name=name,
        mobile=kw.pop("mobile", f"139{n:08d}"),
        card_no=kw.pop("card_no", f"JSH2026{n:06d}" if status == CustomerStatus.FORMAL else None),
        owner=owner,
        department=owner.department,
        registered_by=owner,
        status=status,
        owned_since=timezone.now(),
        **kw,
    )


@pytest.fixture
def member(people: dict[str, Any]) -> Customer:
    """A formal customer of 张伟 (销售一组)."""
    return make_member(people["张伟"])


@pytest.fixture
def buy(people: dict[str, Any]) -> Callable[..., Consumption]:
    """Record a hand-entered sale (餐饮 unless told otherwise) for a member."""

    def record(customer: Customer, amount: Any, **kw: Any) -> Consumption:
        kw.setdefault("category", "dining")
        kw.setdefault("source", "manual")
        kw.setdefault("operator", people["张伟"])
        return services.consumption_record(customer=customer, amount=amount, **kw)

    return record


def account(customer: Customer) -> PointsAccount:
    return PointsAccount.objects.select_related("level").get(customer=customer)


def ledger_sum(customer: Customer) -> int:
    return sum(PointsEntry.objects.filter(account__customer=customer).values_list("points", flat=True))


def lots_sum(customer: Customer) -> int:
    return sum(PointsLot.objects.filter(account__customer=customer).values_list("remaining", flat=True))


def consistent(customer: Customer) -> int:
    """The member's balance, after checking that the cache, the ledger and the lots agree."""
    acc = account(customer)
    assert acc.balance == ledger_sum(customer) == lots_sum(customer) >= 0
    return acc.balance


D = Decimal
