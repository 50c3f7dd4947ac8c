"""Random sequences of sales, refunds, redemptions, gifts, adjustments and expiry runs for two members, against a
model of the ledger written out naively in Python.

After every step: the cached balance = the sum of the entries = the sum of the lots' remainders ≥ 0, and equals
the model's; every lot holds exactly what the model's oldest-first (soonest-expiring-first) bookkeeping says,
so expiry and spending took the oldest points first; a refund's reversal never exceeds what its sale earned,
and equals it once the sale is fully refunded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from crm.accounts.demo import load_demo
from crm.accounts.models import User
from crm.customers.models import Customer
from crm.loyalty import selectors, services
from crm.loyalty.errors import LoyaltyError
from crm.loyalty.models import Consumption, PointsAccount, PointsEntry, PointsLot

from .conftest import make_member

MEMBERS = st.integers(0, 1)
FAR = date(9999, 12, 31)  # never-expiring lots sort last


@dataclass
class Sale:
    pk: int
    member: int
    amount: Decimal
    earned: int
    lot: int | None
    refunded: Decimal = Decimal("0.00")
    reversed: int = 0


class Book:
    """One member's ledger as the rules describe it: lots in the order they are spent."""

    def __init__(self) -> None:
        self.lots: dict[int, list[Any]] = {}  # lot id -> [expires_on or None, remaining]

    @property
    def balance(self) -> int:
        return sum(remaining for _on, remaining in self.lots.values())

    def add(self, lot_id: int, expires_on: date | None, points: int) -> None:
        self.lots[lot_id] = [expires_on, points]

    def expire(self, today: date) -> int:
        total = 0
        for lot in self.lots.values():
            if lot[0] is not None and lot[0] <= today and lot[1]:
                total += lot[1]
                lot[1] = 0
        return total

    def take(self, points: int, first: int | None = None) -> None:
        order = sorted(self.lots, key=lambda i: (self.lots[i][0] or FAR, i))
        if first is not None:
            order = [first, *[i for i in order if i != first]]
        for lot_id in order:
            n = min(self.lots[lot_id][1], points)
            self.lots[lot_id][1] -= n
            points -= n
        assert points == 0


class LedgerMachine(RuleBasedStateMachine):
    sales = Bundle("sales")

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint_create()
        owner = User.objects.get(username="张伟")
        self.members: list[Customer] = [make_member(owner, name="甲"), make_member(owner, name="乙")]
        self.books = [Book(), Book()]
        self.sale_info: dict[int, Sale] = {}
        self.expiry_day = timezone.localdate()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    # -- helpers --------------------------------------------------------------------------------------
    def _debit(self, m: int, points: int, call: Any, first: int | None = None) -> Any:
        """A debit: expected to succeed iff the balance after expiring what is due covers it."""
        book = copy.deepcopy(self.books[m])
        book.expire(timezone.localdate())
        if book.balance >= points:
            result = call()
            book.take(points, first)
            self.books[m] = book
            return result
        before = self._counts()
        try:
            call()
        except LoyaltyError as exc:
            assert exc.code == "insufficient_points", exc
        else:
            raise AssertionError("a debit beyond the balance went through")
        assert self._counts() == before, "a refused debit wrote something"
        return None

    def _counts(self) -> tuple[int, int, int]:
        return Consumption.objects.count(), PointsEntry.objects.count(), PointsLot.objects.count()

    def _new_lot(self, m: int, entry: PointsEntry) -> None:
        lot = PointsLot.objects.get(entry=entry)
        assert lot.points == lot.remaining == entry.points
        self.books[m].add(lot.pk, lot.expires_on, lot.points)

    # -- rules ----------------------------------------------------------------------------------------
    @rule(target=sales, m=MEMBERS, cents=st.integers(1, 4_000_000), days_ago=st.integers(0, 500))
    def sale(self, m: int, cents: int, days_ago: int) -> Sale:
        member = self.members[m]
        account = PointsAccount.objects.select_related("level").filter(customer=member).first()
        multiplier = account.level.multiplier if account else selectors.lowest_level().multiplier
        amount = Decimal(cents) / 100
        expected = int((amount * multiplier).quantize(Decimal(1), rounding=ROUND_FLOOR))
        record = services.consumption_record(
            customer=member,
            amount=amount,
            category="dining",
            source="manual",
            occurred_at=timezone.now() - timedelta(days=days_ago),
        )
        earn = PointsEntry.objects.filter(consumption=record, kind="earn").first()
        assert (earn.points if earn else 0) == expected
        if earn is not None:
            self._new_lot(m, earn)
        sale = Sale(record.pk, m, amount, expected, earn.lot.pk if earn else None)
        self.sale_info[record.pk] = sale
        return sale

    @rule(sale=sales, share=st.sampled_from(["all", 1, 10, 33, 50, 99]))
    def refund(self, sale: Sale, share: Any) -> None:
        left = sale.amount - sale.refunded
        amount = left if share == "all" else (left * share / 100).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        original = Consumption.objects.get(pk=sale.pk)

        def call() -> Any:
            return services.consumption_refund(original=original, amount=amount, source="manual")

        if amount <= 0:
            before = self._counts()
            try:
                call()
            except LoyaltyError as exc:
                assert exc.code == "invalid"
            else:
                raise AssertionError("a refund of nothing went through")
            assert self._counts() == before
            return
        cumulative = sale.refunded + amount
        target = sale.earned if cumulative == sale.amount else int(sale.earned * cumulative // sale.amount)
        reversal = target - sale.reversed
        done = self._debit(sale.member, reversal, call, first=sale.lot) if reversal > 0 else call()
        if done is None:
            return
        sale.refunded = cumulative
        sale.reversed += max(reversal, 0)
        entry = PointsEntry.objects.filter(consumption=done, kind="reversal").first()
        assert (-entry.points if entry else 0) == max(reversal, 0)
        if sale.refunded == sale.amount:
            assert sale.reversed == sale.earned, "a full refund reversed something else than what was earned"

    @rule(m=MEMBERS, points=st.integers(1, 30_000))
    def redeem(self, m: int, points: int) -> None:
        self._debit(m, points, lambda: services.points_redeem(customer=self.members[m], points=points))

    @rule(m=MEMBERS, points=st.integers(1, 5_000))
    def gift(self, m: int, points: int) -> None:
        self._new_lot(m, services.points_gift(customer=self.members[m], points=points, reason="活动"))

    @rule(m=MEMBERS, points=st.integers(-20_000, 20_000).filter(bool))
    def adjust(self, m: int, points: int) -> None:
        def call() -> Any:
            return services.points_adjust(customer=self.members[m], points=points, reason="调整")

        if points > 0:
            self._new_lot(m, call())
        else:
            self._debit(m, -points, call)

    @rule(days=st.integers(0, 800))
    def expire(self, days: int) -> None:
        self.expiry_day = max(self.expiry_day, timezone.localdate() + timedelta(days=days))
        expected = [book.expire(self.expiry_day) for book in self.books]
        done = services.points_expire(today=self.expiry_day)
        assert done == {"accounts": sum(1 for n in expected if n), "points": sum(expected)}

    # -- invariants -----------------------------------------------------------------------------------
    @invariant()
    def balances_agree(self) -> None:
        for member, book in zip(self.members, self.books, strict=True):
            account = PointsAccount.objects.filter(customer=member).first()
            cached = account.balance if account else 0
            entries = PointsEntry.objects.filter(account__customer=member).aggregate(s=Sum("points"))["s"] or 0
            lots = PointsLot.objects.filter(account__customer=member).aggregate(s=Sum("remaining"))["s"] or 0
            assert cached == entries == lots == book.balance >= 0

    @invariant()
    def lots_hold_what_oldest_first_leaves(self) -> None:
        stored = dict(PointsLot.objects.values_list("id", "remaining"))
        modelled = {lot_id: lot[1] for book in self.books for lot_id, lot in book.lots.items()}
        assert stored == modelled

    @invariant()
    def reversals_never_exceed_earnings(self) -> None:
        for sale in self.sale_info.values():
            assert 0 <= sale.reversed <= sale.earned


class StatefulLedgerTest(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        load_demo()

    def test_random_sequences_keep_the_ledger_invariants(self) -> None:
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=30,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
