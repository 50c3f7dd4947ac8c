from django.core.exceptions import ValidationError


class WorkflowError(ValidationError):
    """An action refused by the approval engine; its message says why, in a sentence."""
