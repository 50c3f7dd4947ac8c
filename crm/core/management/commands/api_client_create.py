from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from crm.core.api import OPERATIONS, autodiscover
from crm.core.services import ApiClientRefused, api_client_create


class Command(BaseCommand):
    help = "新建接口客户端并打印其密钥(只显示这一次)。Create an API client and print its key (shown once)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", help="客户端名称,如「前台 POS」")
        parser.add_argument(
            "--operation",
            action="append",
            dest="operations",
            help="允许的操作(可重复);不填则允许全部操作",
        )
        parser.add_argument("--note", default="", help="说明")

    def handle(self, *args: Any, name: str, operations: list[str] | None, note: str, **options: Any) -> None:
        autodiscover()
        try:
            client, key = api_client_create(actor=None, name=name, operations=operations or list(OPERATIONS), note=note)
        except ApiClientRefused as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(
            _("接口客户端「%(name)s」已创建,允许:%(ops)s。密钥只显示这一次,请妥善保存:")
            % {"name": client.name, "ops": "、".join(client.operations)}
        )
        self.stdout.write(key)
