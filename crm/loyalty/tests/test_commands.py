"""The scheduled commands and tasks, and points_reconcile on good data and on planted mismatches."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from crm.customers.models import Customer
from crm.loyalty import services, tasks
from crm.loyalty.models import PointsAccount, PointsEntry, PointsLot

from .conftest import account, consistent

pytestmark = pytest.mark.django_db


def run(*args: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def busy(member: Customer, buy: Any, people: dict[str, Any]) -> Customer:
    sale = buy(member, "60000.00", occurred_at=timezone.now() - timedelta(days=200))  # 银卡 at once
    buy(member, "500.00")
    services.points_redeem(customer=member, points=100)
    services.consumption_refund(original=sale, amount="20000.00", source="manual")  # net 40,500 from now
    services.points_gift(customer=member, points=30, reason="生日")
    return member


def test_reconcile_passes_on_good_data(busy: Customer) -> None:
    assert run("points_reconcile") == "积分核对:共 1 个账户,全部一致。\n"


def test_reconcile_finds_a_cached_balance_that_drifted(busy: Customer) -> None:
    PointsAccount.objects.filter(customer=busy).update(balance=1)
    out = io.StringIO()
    with pytest.raises(CommandError, match="共 1 个账户,1 个不一致") as info:
        call_command("points_reconcile", stdout=out)
    assert info.value.returncode == 1
    assert "账户余额 1" in out.getvalue() and busy.name in out.getvalue()


def test_reconcile_finds_a_lot_that_disagrees_with_its_uses(busy: Customer) -> None:
    lot = PointsLot.objects.filter(account__customer=busy, remaining__gt=1).first()
    PointsLot.objects.filter(pk=lot.pk).update(remaining=lot.remaining - 1)
    PointsAccount.objects.filter(customer=busy).update(balance=account(busy).balance - 1)
    # balance = lots now, but neither equals the ledger and the lot disagrees with its uses
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("points_reconcile", stdout=out)
    assert "剩余与使用记录不符的批次 1 个" in out.getvalue()


def test_reconcile_from_the_shell_exits_non_zero(busy: Customer) -> None:
    """The exit status a monitoring job sees (BaseCommand turns the CommandError into it)."""
    from django.core.management import ManagementUtility

    PointsAccount.objects.filter(customer=busy).update(balance=0)
    with pytest.raises(SystemExit) as info:
        ManagementUtility(["manage.py", "points_reconcile"]).execute()
    assert info.value.code == 1


def test_the_expiry_command_and_task(busy: Customer) -> None:
    expired_before = PointsEntry.objects.filter(kind="expire").count()
    later = (timezone.localdate() + timedelta(days=400)).isoformat()
    assert "1 个会员" in run("points_expire", "--date", later)
    assert "0 个会员共 0 积分" in run("points_expire", "--date", later)
    assert PointsEntry.objects.filter(kind="expire").count() == expired_before + 1
    assert consistent(busy) == 0
    with pytest.raises(CommandError, match="格式不正确"):
        run("points_expire", "--date", "2026-13-01")
    assert tasks.expire_points.call(later) == {"accounts": 0, "points": 0}
    assert "已提交后台任务" in run("points_expire", "--enqueue")
    assert DBTaskResult.objects.filter(task_path="crm.loyalty.tasks.expire_points").count() == 1


def test_the_review_command_and_task(busy: Customer) -> None:
    assert account(busy).level.name == "银卡"
    assert "降级 1 人" in run("level_review")
    assert account(busy).level.name == "普卡"
    assert "未重复评定" in run("level_review")
    assert "降级 0 人,升级 0 人" in run("level_review", "--force")
    today = timezone.localdate()
    assert tasks.review_levels.call(today.isoformat(), True) == {"skipped": False, "down": 0, "up": 0}
    assert "已提交后台任务" in run("level_review", "--enqueue", "--date", today.isoformat())
    assert DBTaskResult.objects.filter(task_path="crm.loyalty.tasks.review_levels").count() == 1
