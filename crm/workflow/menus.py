"""Menu nodes and home-page panels of the approval engine."""

from django.utils.translation import gettext_lazy as _

from crm.core.home import HomePanel, home_panels
from crm.core.menu import MenuNode, menu

from . import selectors
from .registry import form_types


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


class MineNode(MenuNode):
    """〖我的申请〗, where each form type's 【新增…】 is. On the role page it carries the create permission of every
    registered form type that no other menu node lists (新增积分调整; 新增客户 belongs to 客户登记), so that each
    form type can be given to a role however its app builds its menu."""

    @property
    def all_permissions(self) -> tuple[str, ...]:
        elsewhere = {code for node, _depth in menu.walk() if node is not self for code in node.permissions + node.extra}
        creates = (ft.create_permission for ft in form_types.all() if ft.create_permission)
        return self.permissions + self.extra + tuple(code for code in creates if code not in elsewhere)


menu.register(
    MineNode("mine", _("我的申请"), "workflow:mine", icon="bi-file-earmark-text", login_only=True, order=30),
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
