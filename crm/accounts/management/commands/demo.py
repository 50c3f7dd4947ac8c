from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from crm.accounts.demo import load_demo
from crm.accounts.models import User


class Command(BaseCommand):
    help = "载入演示组织与数据(可重复执行,只补齐缺少的部分)。Load the demo organisation (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--if-empty", action="store_true", help="只在数据库中还没有任何用户时载入")

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        if if_empty and User.objects.exists():
            self.stdout.write(_("数据库中已有用户,未载入演示数据。"))
            return
        created = load_demo()
        self.stdout.write(
            _(
                "演示数据已就绪:新增部门 %(departments)d 个、角色 %(roles)d 个、用户 %(users)d 人、"
                "字典 %(dictionaries)d 个。"
            )
            % created
        )
