from django.apps import AppConfig


class WorkflowTestingConfig(AppConfig):
    """A form type used only by the tests (installed when CRM_TESTING is set): it proves that a form type is
    added without touching the engine, and gives the browser tests something to approve."""

    name = "crm.workflow.testing"
    label = "workflow_testing"
    verbose_name = "审批流测试"

    def ready(self) -> None:
        from . import formtype  # noqa: F401
