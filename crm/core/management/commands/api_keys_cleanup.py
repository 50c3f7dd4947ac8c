from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from crm.core.api import idempotency_cleanup


class Command(BaseCommand):
    help = "删除过期的 Idempotency-Key 记录(保留 CRM_API_IDEMPOTENCY_HOURS 小时)。"

    def handle(self, *args: Any, **options: Any) -> None:
        n = idempotency_cleanup()
        self.stdout.write(_("已删除 %(n)d 条过期的 Idempotency-Key 记录。") % {"n": n})
