from __future__ import annotations

from typing import Any

import pytest

from crm.accounts.models import Role, User
from crm.workflow.models import ApproverKind, Chain, ChainStep
from crm.workflow.registry import form_types
from crm.workflow.services import draft_save

FT = "test_request"


def make_chain(*steps: dict[str, Any]) -> Chain:
    chain, _ = Chain.objects.get_or_create(form_type=FT)
    chain.steps.all().delete()
    for i, spec in enumerate(steps):
        ChainStep.objects.create(chain=chain, order=i, **{"name": f"第{i + 1}步", **spec})
    return chain


def new_app(applicant: User, subject: str = "采购茶叶", amount: int = 100, note: str = "") -> Any:
    form_type = form_types.get(FT)
    assert form_type is not None
    form = form_type.form_class({"subject": subject, "amount": amount, "note": note})
    assert form.is_valid(), form.errors
    return draft_save(actor=applicant, form_type=form_type, form=form)


@pytest.fixture
def org(people: dict[str, User]) -> dict[str, User]:
    return people


@pytest.fixture
def manager_director_chain(org: dict[str, User]) -> Chain:
    return make_chain(
        {"approver_kind": ApproverKind.DEPT_MANAGER},
        {"approver_kind": ApproverKind.DIRECTOR},
    )


def role(name: str) -> Role:
    return Role.objects.get(name=name)
