"""会员管理 in the menu (消费记录, 积分流水, 消费录入, 消费导入), 系统管理 › 积分规则, and the customer's 消费记录 and
积分 tabs."""

from django.utils.translation import gettext_lazy as _

from crm.core.menu import MenuNode, menu
from crm.customers.tabs import profile_tabs

from .views import consumption_tab, points_tab

menu.register(MenuNode("loyalty", _("会员管理"), icon="bi-gem", order=30))
menu.register(
    MenuNode(
        "consumptions",
        _("消费记录"),
        "loyalty:consumption_list",
        permissions=("loyalty.view_consumption",),
        extra=("loyalty.export_consumption",),
        icon="bi-receipt",
        order=10,
    ),
    parent="loyalty",
)
menu.register(
    MenuNode(
        "points_entries",
        _("积分流水"),
        "loyalty:entry_list",
        permissions=("loyalty.view_pointsentry",),
        extra=("loyalty.export_pointsentry", "loyalty.view_pointsaccount"),
        icon="bi-coin",
        order=20,
    ),
    parent="loyalty",
)

menu.register(
    MenuNode(
        "consumption_entry",
        _("消费录入"),
        "loyalty:consumption_create",
        permissions=("loyalty.add_consumption",),
        extra=("loyalty.refund_consumption",),
        icon="bi-pencil-square",
        order=30,
    ),
    parent="loyalty",
)
menu.register(
    MenuNode(
        "consumption_import",
        _("消费导入"),
        "loyalty:consumption_import",
        permissions=("loyalty.import_consumption",),
        icon="bi-upload",
        order=40,
    ),
    parent="loyalty",
)
menu.register(
    MenuNode(
        "loyalty_rules",
        _("积分规则"),
        "loyalty:rules",
        permissions=("loyalty.view_loyaltysettings",),
        extra=("loyalty.change_loyaltysettings",),
        icon="bi-sliders",
        order=65,
    ),
    parent="system",
)

profile_tabs.register("consumption", _("消费记录"), "loyalty.view_consumption", consumption_tab, order=10)
profile_tabs.register("points", _("积分"), "loyalty.view_pointsentry", points_tab, order=20)
