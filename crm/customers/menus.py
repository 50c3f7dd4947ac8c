"""客户管理 in the menu: leads and formal customers, each with entry, review and tracking (and its weekly
sub-lists), as the seed names them."""

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from crm.core.menu import MenuNode, menu

WEEKLY = (
    ("new", _("本周新增客户"), "bi-plus-circle"),
    ("due", _("本周待跟踪客户"), "bi-alarm"),
    ("done", _("本周已跟客户"), "bi-check2-circle"),
)

menu.register(MenuNode("customers", _("客户管理"), icon="bi-people", order=20))
menu.register(MenuNode("leads", _("潜在客户管理"), icon="bi-person-plus", order=10), parent="customers")
menu.register(
    MenuNode(
        "lead_entry",
        _("潜在客户录入"),
        "customers:lead_entry",
        permissions=("customers.add_lead", "customers.register_own_lead"),
        extra=("customers.import_lead",),
        icon="bi-pencil-square",
        order=10,
    ),
    parent="leads",
)
menu.register(
    MenuNode(
        "lead_review",
        _("潜在客户审核"),
        "customers:lead_review",
        permissions=("customers.review_lead",),
        icon="bi-clipboard-check",
        order=20,
        badge_url_name="customers:lead_review_count",
    ),
    parent="leads",
)
menu.register(
    MenuNode(
        "lead_tracking",
        _("潜在客户跟踪"),
        "customers:lead_list",
        permissions=("customers.view_lead",),
        extra=("customers.change_lead", "customers.export_lead"),
        icon="bi-binoculars",
        order=30,
    ),
    parent="leads",
)
for key, label, icon in WEEKLY:
    menu.register(
        MenuNode(
            f"lead_week_{key}",
            label,
            f"customers:lead_week_{key}",
            permissions=("customers.view_lead",),
            icon=icon,
            tab_title=format_lazy("{}({})", label, _("潜在客户")),  # beside the customers' tab of the same name
        ),
        parent="lead_tracking",
    )

menu.register(MenuNode("formal", _("正式客户管理"), icon="bi-person-vcard", order=20), parent="customers")
menu.register(
    MenuNode(
        "customer_entry",
        _("客户登记"),
        "customers:customer_entry",
        permissions=("customers.add_customer",),
        extra=("customers.import_customer",),
        icon="bi-pencil-square",
        order=10,
    ),
    parent="formal",
)
menu.register(
    MenuNode(
        "customer_review",
        _("客户资料审核"),
        "customers:customer_review",
        permissions=("customers.review_customer",),
        icon="bi-clipboard-check",
        order=20,
        badge_url_name="customers:customer_review_count",
    ),
    parent="formal",
)
menu.register(
    MenuNode(
        "customer_tracking",
        _("客户跟踪"),
        "customers:customer_list",
        permissions=("customers.view_customer",),
        extra=("customers.change_customer", "customers.export_customer"),
        icon="bi-binoculars",
        order=30,
    ),
    parent="formal",
)
for key, label, icon in WEEKLY:
    menu.register(
        MenuNode(
            f"customer_week_{key}",
            label,
            f"customers:customer_week_{key}",
            permissions=("customers.view_customer",),
            icon=icon,
        ),
        parent="customer_tracking",
    )
menu.register(
    MenuNode(
        "lead_merge",
        _("合并重复潜在客户"),
        "customers:merge_lead",
        permissions=("customers.merge_lead",),
        icon="bi-intersect",
        order=40,
    ),
    parent="leads",
)
menu.register(
    MenuNode(
        "customer_merge",
        _("合并重复客户"),
        "customers:merge_customer",
        permissions=("customers.merge_customer",),
        icon="bi-intersect",
        order=40,
    ),
    parent="formal",
)
