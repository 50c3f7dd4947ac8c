from django.utils.translation import gettext_lazy as _

from .menu import MenuNode, menu

menu.register(MenuNode("home", _("首页"), "core:home", icon="bi-house", order=0, login_only=True))
menu.register(MenuNode("system", _("系统管理"), icon="bi-gear", order=900))
menu.register(
    MenuNode(
        "audit",
        _("审计日志"),
        "core:audit_list",
        permissions=("core.view_auditlog",),
        extra=("core.view_sensitive",),
        icon="bi-journal-text",
        order=80,
    ),
    parent="system",
)
menu.register(
    MenuNode(
        "dictionaries",
        _("数据字典"),
        "core:dict_list",
        permissions=("core.view_dicttype",),
        extra=("core.change_dicttype", "core.add_dicttype"),
        icon="bi-book",
        order=60,
    ),
    parent="system",
)
menu.register(
    MenuNode(
        "api_clients",
        _("接口客户端"),
        "core:api_client_list",
        permissions=("core.view_apiclient",),
        extra=("core.change_apiclient", "core.add_apiclient"),
        icon="bi-plug",
        order=70,
    ),
    parent="system",
)
