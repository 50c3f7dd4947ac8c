"""Menu nodes and home-page panels of the approval engine."""

from django.utils.translation import gettext_lazy as _

from crm.core.home import HomePanel, home_panels
from crm.core.menu import MenuNode, menu

from . import selectors


def todo_panel(user: object) -> dict[str, object] | None:
    """The home page's 〖待办业务〗: how many wait, the newest few, the overdue ones first to the eye."""
    counts = selectors.todo_counts(user)
    total = sum(counts.values())
    if not total:
        return None
    latest = (
        selectors.todo(user).select_related("application", "application__applicant").order_by("-created_at", "-id")[:5]
    )
    return {"total": total, "latest": latest}


home_panels.register(HomePanel("todo", "workflow/home_todo.html", todo_panel, order=10))

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
