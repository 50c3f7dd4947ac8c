from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "crm.customers"
    label = "customers"
    verbose_name = _("客户管理")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import checks, demo, formtypes, menus  # noqa: F401
        from .sqlite_search import after_migrate

        post_migrate.connect(after_migrate, sender=self, dispatch_uid="crm.customers.sqlite_search")
