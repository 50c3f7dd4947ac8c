"""Concurrent writes on real PostgreSQL connections, one per thread: the balance never goes negative and never
loses an update, an account is opened once, an order counts once (also one recorded again after its import was
undone), a sale is refunded once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from crm.accounts.demo import load_demo
from crm.accounts.models import User
from crm.loyalty import imports, selectors, services
from crm.loyalty.errors import LoyaltyError
from crm.loyalty.models import Consumption, PointsAccount, PointsEntry

from .conftest import consistent, make_member
from .test_imports import ago, xlsx

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent connections (PostgreSQL)"),
]


def race(n: int, work: Callable[[int], Any]) -> tuple[int, list[str]]:
    """Run ``work(i)`` in ``n`` threads released at once; (successes, refusal codes)."""
    barrier = threading.Barrier(n)
    lock = threading.Lock()
    wins = 0
    codes: list[str] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        nonlocal wins
        try:
            barrier.wait()
            work(i)
            with lock:
                wins += 1
        except LoyaltyError as exc:
            with lock:
                codes.append(str(exc.code))
        except BaseException as exc:  # surfaced below: a thread's crash must fail the test
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return wins, codes


@pytest.fixture
def owner(settings: Any) -> User:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_demo()
    return User.objects.get(username="张伟")


def test_fifty_redemptions_of_100_against_1000_points(owner: User) -> None:
    member = make_member(owner)
    services.points_gift(customer=member, points=1000, reason="开业")
    wins, codes = race(50, lambda i: services.points_redeem(customer=member, points=100, reason=f"兑换{i}"))
    assert wins == 10
    assert codes == ["insufficient_points"] * 40
    assert consistent(member) == 0
    assert PointsEntry.objects.filter(kind="redeem").count() == 10
    assert selectors.reconcile()[1] == []


def test_first_sales_at_once_open_one_account(owner: User) -> None:
    member = make_member(owner)
    wins, codes = race(
        12, lambda i: services.consumption_record(customer=member, amount=100, category="dining", source="api")
    )
    assert (wins, codes) == (12, [])
    assert PointsAccount.objects.filter(customer=member).count() == 1
    assert consistent(member) == 1200


def test_the_same_order_posted_at_once_counts_once(owner: User) -> None:
    members = [make_member(owner, name=f"会员{i}") for i in range(3)]
    wins, codes = race(
        12,
        lambda i: services.consumption_record(
            customer=members[i % 3], amount=100, category="dining", source="api", order_no="POS-77", client_key="pos"
        ),
    )
    assert (wins, codes) == (1, ["duplicate_order"] * 11)
    assert Consumption.objects.count() == 1
    assert sum(consistent(m) if PointsAccount.objects.filter(customer=m).exists() else 0 for m in members) == 100


def test_a_sale_is_refunded_once_when_two_refunds_race(owner: User) -> None:
    member = make_member(owner)
    sale = services.consumption_record(customer=member, amount=500, category="spa", source="manual")
    services.points_gift(customer=member, points=10, reason="开业")
    wins, codes = race(8, lambda i: services.consumption_refund(original=sale, amount=500, source="manual"))
    assert (wins, codes) == (1, ["invalid"] * 7)
    assert selectors.refundable_amount(sale) == 0
    assert consistent(member) == 10


def test_an_undone_import_s_order_recorded_again_at_once_counts_once(owner: User) -> None:
    members = [make_member(owner, name=f"会员{i}") for i in range(3)]
    admin = User.objects.get(username="管理员")
    rows: list[list[Any]] = [["会员卡号", "消费时间", "金额", "消费类别", "订单号"]]
    rows.append([members[0].card_no, ago(3), 100, "餐饮", "R-1"])
    batch = imports.commit(actor=admin, batch=imports.preview(actor=admin, data=xlsx(rows), filename="r.xlsx"))
    assert imports.undo(actor=admin, batch=batch) == 1
    wins, codes = race(
        12,
        lambda i: services.consumption_record(
            customer=members[i % 3], amount=100, category="dining", source="manual", order_no="R-1"
        ),
    )
    assert (wins, codes) == (1, ["duplicate_order"] * 11)
    sales = Consumption.objects.sales().filter(order_no="R-1").order_by("order_seq")
    assert list(sales.values_list("order_seq", "import_batch")) == [(0, batch.pk), (1, None)]
    assert sum(consistent(m) if PointsAccount.objects.filter(customer=m).exists() else 0 for m in members) == 100
    assert selectors.reconcile()[1] == []


def test_members_of_one_level_do_not_wait_for_each_other(owner: User) -> None:
    """A write locks the member's account, not the level it reads with it: while one transaction holds a 普卡
    member's account, another 普卡 member's sale goes through at once, and the first member's waits."""
    first, second = make_member(owner, name="会员甲"), make_member(owner, name="会员乙")
    for member in (first, second):
        services.consumption_record(customer=member, amount=10, category="dining", source="manual")
    assert PointsAccount.objects.filter(level__rank=0).count() == 2
    holding, held = threading.Event(), threading.Event()

    def hold() -> None:  # another connection: a transaction holding the first member's account
        try:
            from django.db import transaction

            with transaction.atomic():
                services.points_gift(customer=first, points=1, reason="占用")
                holding.set()
                held.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
        try:
            services.consumption_record(customer=second, amount=20, category="dining", source="manual")
            with pytest.raises(Exception, match="lock timeout"):
                services.consumption_record(customer=first, amount=20, category="dining", source="manual")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    finally:
        held.set()
        thread.join()
    assert consistent(second) == 30 and consistent(first) == 11
