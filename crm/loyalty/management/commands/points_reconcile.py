"""manage.py points_reconcile: prove that every account's cached balance equals the sum of its ledger entries
and the sum of its lots' remainders (and every lot's remainder its points minus its uses). Exits with status 1
on any mismatch, so that a monitoring job notices."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from crm.loyalty.selectors import reconcile


class Command(BaseCommand):
    help = "核对积分:账户余额 = 积分流水合计 = 各批次剩余积分合计;发现不一致时以状态 1 退出。"

    def handle(self, *args: Any, **options: Any) -> None:
        checked, mismatches = reconcile()
        for m in mismatches[:100]:
            self.stdout.write(
                _(
                    "不一致:账户 %(id)d %(customer)s:账户余额 %(balance)d,流水合计 %(entries)d,"
                    "批次剩余合计 %(lots)d,剩余与使用记录不符的批次 %(bad)d 个。"
                )
                % {
                    "id": m.account_id,
                    "customer": m.customer,
                    "balance": m.balance,
                    "entries": m.entries,
                    "lots": m.lots,
                    "bad": m.bad_lots,
                }
            )
        if mismatches:
            raise CommandError(
                _("积分核对:共 %(checked)d 个账户,%(bad)d 个不一致。") % {"checked": checked, "bad": len(mismatches)},
                returncode=1,
            )
        self.stdout.write(_("积分核对:共 %(checked)d 个账户,全部一致。") % {"checked": checked})
