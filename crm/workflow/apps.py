from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkflowConfig(AppConfig):
    name = "crm.workflow"
    label = "workflow"
    verbose_name = _("审批流")

    def ready(self) -> None:
        from crm.accounts.selectors import register_unfinished_work
        from crm.accounts.services import WorkHandover, register_work_handover

        from .selectors import todo_count, unfinished_approvals
        from .services import hand_over_approvals

        register_unfinished_work(unfinished_approvals)
        register_work_handover(WorkHandover(count=todo_count, give=hand_over_approvals))
