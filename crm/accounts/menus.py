from django.utils.translation import gettext_lazy as _

from crm.core.menu import MenuNode, menu

menu.register(
    MenuNode(
        "users",
        _("用户管理"),
        "accounts:user_list",
        permissions=("accounts.view_user",),
        extra=(
            "accounts.add_user",
            "accounts.change_user",
            "accounts.reset_password",
            "accounts.unlock_user",
        ),
        icon="bi-people",
        order=10,
    ),
    parent="system",
)
menu.register(
    MenuNode(
        "departments",
        _("部门管理"),
        "accounts:department_tree",
        permissions=("accounts.view_department",),
        extra=("accounts.add_department", "accounts.change_department", "accounts.delete_department"),
        icon="bi-diagram-3",
        order=20,
    ),
    parent="system",
)
menu.register(
    MenuNode(
        "positions",
        _("岗位管理"),
        "accounts:position_list",
        permissions=("accounts.view_position",),
        extra=("accounts.add_position", "accounts.change_position"),
        icon="bi-person-badge",
        order=30,
    ),
    parent="system",
)
menu.register(
    MenuNode(
        "roles",
        _("角色管理"),
        "accounts:role_list",
        permissions=("accounts.view_role",),
        extra=("accounts.add_role", "accounts.change_role"),
        icon="bi-shield-lock",
        order=40,
    ),
    parent="system",
)
menu.register(MenuNode("self_service", _("个人自助服务"), icon="bi-person-gear", order=95), parent="system")
menu.register(
    MenuNode("password", _("密码修改"), "accounts:password_change", icon="bi-key", login_only=True),
    parent="self_service",
)
