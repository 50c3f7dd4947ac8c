"""Reads: the data scope reaches consumption and ledger entries through their customer; a member's ledger and
consumption in keyset order."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from crm.accounts.models import User
from crm.accounts.tests.test_scope import oracle_reaches, record_reach
from crm.customers.models import Customer
from crm.loyalty import selectors, services
from crm.loyalty.models import Consumption, PointsAccount, PointsEntry

from .conftest import make_member

pytestmark = pytest.mark.django_db

OWNERS = ["张伟", "刘洋", "杨帆", "张伟(销售二组)", "李明"]


@pytest.fixture
def spread(people: dict[str, Any], buy: Any) -> list[Customer]:
    """A member of each owner, each with a sale, a refund and a redemption."""
    members = []
    for i, owner in enumerate(OWNERS):
        member = make_member(people[owner], name=f"会员{i}")
        sale = buy(member, 1000 + i)
        services.consumption_refund(original=sale, amount=10, source="manual")
        services.points_redeem(customer=member, points=5)
        members.append(member)
    return members


def test_consumption_and_entries_are_scoped_through_the_customer(spread: list[Customer]) -> None:
    for user in User.objects.all():
        for model, selector in ((Consumption, selectors.consumptions_for), (PointsEntry, selectors.entries_for)):
            reached = set(selector(user).values_list("pk", flat=True))
            expected = {
                obj.pk
                for obj in model.objects.all()
                if oracle_reaches(user, **dict(zip(("owner_ids", "department_id"), record_reach(obj), strict=True)))
            }
            assert reached == expected, (user.username, model.__name__)
    zhang = User.objects.get(username="张伟")
    names = set(selectors.consumptions_for(zhang).values_list("customer__name", flat=True))
    assert names == {"会员0"}
    li = User.objects.get(username="李明")  # 销售一组's manager: his people and himself
    reached = set(selectors.entries_for(li).values_list("account__customer__name", flat=True))
    assert reached == {"会员0", "会员1", "会员4"}
    assert len(selectors.consumptions_for(User.objects.get(username="赵志刚"))) == 10  # 全部
    assert not selectors.consumptions_for(AnonymousUser()).exists()


def test_the_scope_follows_a_transfer_of_the_customer(spread: list[Customer], people: dict[str, Any]) -> None:
    zhang, liu = people["张伟"], people["刘洋"]
    Customer.objects.filter(pk=spread[0].pk).update(owner=liu)
    assert not selectors.consumptions_for(zhang).exists()
    assert set(selectors.consumptions_for(liu).values_list("customer__name", flat=True)) == {"会员0", "会员1"}
    assert PointsAccount.objects.for_user(liu).count() == 2


def test_a_members_ledger_and_consumption_newest_first(member: Customer, buy: Any) -> None:
    sales = [buy(member, 100 * (i + 1)) for i in range(3)]
    services.points_redeem(customer=member, points=50)
    account = selectors.account_of(member)
    assert account is not None
    entries = list(selectors.ledger(account))
    assert [e.kind for e in entries] == ["redeem", "earn", "earn", "earn"]
    assert [e.balance_after for e in entries] == [550, 600, 300, 100]
    assert list(selectors.customer_consumptions(member)) == sales[::-1]
    assert selectors.balance(member) == 550 and selectors.level_of(member).name == "普卡"


def test_lists_do_not_query_per_row(
    spread: list[Customer], people: dict[str, Any], django_assert_num_queries: Any
) -> None:
    boss = people["赵志刚"]
    boss.data_grant("view")  # the grant is computed once per request
    with django_assert_num_queries(1):
        rows = [(c.customer.name, c.amount) for c in selectors.consumptions_for(boss)[:50]]
    assert len(rows) == 10
    with django_assert_num_queries(1):
        rows = [(e.account.customer.name, e.points) for e in selectors.entries_for(boss)[:50]]
    assert len(rows) == 15
