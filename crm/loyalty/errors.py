"""Refusals of the loyalty services: a sentence for people and a stable code for machines.

The POS API maps the codes to HTTP statuses (``HTTP_STATUS``); the pages show the message. A ``LoyaltyError``
is a ``WorkflowError`` (itself a ``ValidationError``), so that a refusal inside an approval's effect (a 积分调整
that would take more points than the member has) reaches the approver as the engine's own refusals do, and the
approval is rolled back.
"""

from __future__ import annotations

from typing import Any

from crm.workflow.errors import WorkflowError

INVALID = "invalid"
UNKNOWN_MEMBER = "unknown_member"
INSUFFICIENT_POINTS = "insufficient_points"
DUPLICATE_ORDER = "duplicate_order"

HTTP_STATUS = {
    INVALID: 422,
    UNKNOWN_MEMBER: 404,
    INSUFFICIENT_POINTS: 409,
    DUPLICATE_ORDER: 409,
}


class LoyaltyError(WorkflowError):
    """A refused loyalty action. ``code`` is one of the module's constants; ``detail`` carries what a caller may
    need beyond the sentence (e.g. the existing consumption of a duplicate order number)."""

    def __init__(self, code: str, message: str, **detail: Any) -> None:
        super().__init__(message, code=code)
        self.detail = detail

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(str(self.code), 422)


class AppendOnlyViolation(RuntimeError):
    """Code tried to change or delete a ledger record: a programming error, never a user's."""
