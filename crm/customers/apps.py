from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "crm.customers"
    label = "customers"
    verbose_name = _("客户管理")

    def ready(self) -> None:
        from . import checks, demo, formtypes, menus  # noqa: F401
