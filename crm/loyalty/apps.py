from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "crm.loyalty"
    label = "loyalty"
    verbose_name = _("消费与积分")

    def ready(self) -> None:
        from . import demo, formtypes, menus  # noqa: F401
