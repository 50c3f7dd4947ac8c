from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "crm.core"
    label = "core"
    verbose_name = _("基础")

    def ready(self) -> None:
        autodiscover_modules("menus")
