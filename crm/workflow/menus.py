from django.utils.translation import gettext_lazy as _

from crm.core.menu import MenuNode, menu

menu.register(MenuNode("approval", _("业务审批"), icon="bi-inbox", order=5))
menu.register(
    MenuNode(
        "todo",
        _("待办业务"),
        "workflow:todo",
        icon="bi-bell",
        login_only=True,
        order=10,
        badge_url_name="workflow:todo_count",
    ),
    parent="approval",
)
menu.register(
    MenuNode("done", _("已办业务"), "workflow:done", icon="bi-check2-square", login_only=True, order=20),
    parent="approval",
)
menu.register(
    MenuNode("mine", _("我的申请"), "workflow:mine", icon="bi-file-earmark-text", login_only=True, order=30),
    parent="approval",
)
menu.register(
    MenuNode(
        "applications",
        _("申请单查询"),
        "workflow:applications",
        permissions=("workflow.view_application",),
        extra=("workflow.delete_any_application",),
        icon="bi-search",
        order=40,
    ),
    parent="approval",
)
menu.register(
    MenuNode(
        "chains",
        _("流程配置"),
        "workflow:chain_list",
        permissions=("workflow.view_chain",),
        extra=("workflow.change_chain",),
        icon="bi-diagram-2",
        order=50,
    ),
    parent="system",
)
