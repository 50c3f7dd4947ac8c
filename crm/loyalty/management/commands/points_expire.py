"""manage.py points_expire: the daily expiry of points (cron / systemd timer, e.g. at 01:30 every day)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from crm.loyalty import services, tasks

from ._dates import parse_day


class Command(BaseCommand):
    help = "使已到期的积分过期(每天运行一次;重复运行不会重复扣减)。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="以这一天为今天(YYYY-MM-DD),默认今天")
        parser.add_argument("--enqueue", action="store_true", help="交给后台任务进程执行,而不是立即执行")

    def handle(self, *args: Any, **options: Any) -> None:
        day = parse_day(options["date"])
        if options["enqueue"]:
            result = tasks.expire_points.enqueue(day.isoformat() if day else None)
            self.stdout.write(_("已提交后台任务 %(id)s。") % {"id": result.id})
            return
        done = services.points_expire(today=day)
        self.stdout.write(
            _("积分过期:%(accounts)d 个会员共 %(points)d 积分到期。")
            % {"accounts": done["accounts"], "points": done["points"]}
        )
