"""The ledger is append-only in code and its invariants hold in the database itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.customers.models import Customer
from crm.loyalty import services
from crm.loyalty.errors import AppendOnlyViolation
from crm.loyalty.models import (
    Consumption,
    LevelChange,
    LoyaltySettings,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsLotUse,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(member: Customer, buy: Any) -> Customer:
    sale = buy(member, "60000.00", order_no="A1")
    services.points_redeem(customer=member, points=10)
    services.consumption_refund(original=sale, amount="100.00", source="manual")
    return member


@pytest.mark.parametrize("model", [PointsEntry, Consumption, PointsLotUse, LevelChange])
def test_stored_ledger_rows_cannot_be_changed_or_deleted(ledger: Customer, model: Any) -> None:
    row = model.objects.first()
    assert row is not None
    with pytest.raises(AppendOnlyViolation):
        row.save()
    with pytest.raises(AppendOnlyViolation):
        row.delete()
    with pytest.raises(AppendOnlyViolation):
        model.objects.filter(pk=row.pk).update(pk=row.pk)
    with pytest.raises(AppendOnlyViolation):
        model.objects.filter(pk=row.pk).delete()
    with pytest.raises(AppendOnlyViolation):
        model.objects.bulk_update([row], fields=["pk"])
    assert model.objects.filter(pk=row.pk).exists()


def test_a_customer_with_a_ledger_cannot_be_deleted(ledger: Customer) -> None:
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        Customer.objects.filter(pk=ledger.pk).delete()


def test_the_database_refuses_a_negative_balance(ledger: Customer) -> None:
    account = PointsAccount.objects.get(customer=ledger)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.filter(pk=account.pk).update(balance=-1)


def test_the_database_refuses_entries_of_the_wrong_sign_and_lots_over_full(ledger: Customer) -> None:
    account = PointsAccount.objects.get(customer=ledger)
    for kind, points in [("earn", -5), ("redeem", 5), ("expire", 0), ("adjust", 0), ("gift", -1)]:
        with pytest.raises(IntegrityError), transaction.atomic():
            PointsEntry.objects.create(account=account, kind=kind, points=points, balance_after=0)
    with pytest.raises(IntegrityError), transaction.atomic():  # a reversal must name what it reverses
        PointsEntry.objects.create(account=account, kind="reversal", points=-1, balance_after=0)
    lot = PointsLot.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsLot.objects.filter(pk=lot.pk).update(remaining=lot.points + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsLot.objects.filter(pk=lot.pk).update(remaining=-1)


def test_the_database_refuses_a_sale_with_a_negative_amount_or_a_positive_refund(ledger: Customer) -> None:
    sale = Consumption.objects.get(order_no="A1")
    common = {"customer": ledger, "occurred_at": timezone.now(), "category": "dining", "source": "manual"}
    with pytest.raises(IntegrityError), transaction.atomic():
        Consumption.objects.create(amount=-1, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Consumption.objects.create(amount=1, refund_of=sale, **common)
    with pytest.raises(IntegrityError), transaction.atomic():  # the order number guard holds without the service
        Consumption.objects.create(amount=1, order_no="A1", **common)


def test_the_rules_are_one_row() -> None:
    LoyaltySettings.objects.get_or_create(pk=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        LoyaltySettings.objects.create(id=2)
