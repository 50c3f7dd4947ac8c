"""manage.py level_review: the yearly review of member levels (cron / systemd timer, once a year)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from crm.loyalty import services, tasks

from ._dates import parse_day


class Command(BaseCommand):
    help = "会员等级年度评定:按统计周期的净消费重新评定每位会员的等级(降级只在这里发生)。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="以这一天为评定日(YYYY-MM-DD),默认今天")
        parser.add_argument("--force", action="store_true", help="本年度已经评定过也再评定一次")
        parser.add_argument("--enqueue", action="store_true", help="交给后台任务进程执行,而不是立即执行")

    def handle(self, *args: Any, **options: Any) -> None:
        day = parse_day(options["date"])
        if options["enqueue"]:
            result = tasks.review_levels.enqueue(day.isoformat() if day else None, options["force"])
            self.stdout.write(_("已提交后台任务 %(id)s。") % {"id": result.id})
            return
        done = services.level_yearly_review(today=day, force=options["force"])
        if done["skipped"]:
            self.stdout.write(
                _("本年度已于 %(day)s 评定过,未重复评定;确需再评定请加 --force。") % {"day": done["last_review_on"]}
            )
            return
        self.stdout.write(_("会员等级年度评定完成:降级 %(down)d 人,升级 %(up)d 人。") % done)
