"""Bad input never gives a 500: every page of the app, fed with hostile query strings and form data."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

NASTY = ["\x00", "张" * 5000, "' OR 1=1 --", "-1", "99999999999999999999999", "2026-02-30", "１２３"]


def app_routes() -> list[tuple[str, str]]:
    """(route, name) of every page in the app's own namespaces."""
    out: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
            elif isinstance(p, URLPattern) and namespace in ("core", "accounts", "workflow", "customers"):
                out.append((prefix + str(p.pattern), f"{namespace}:{p.name}"))

    walk(get_resolver().url_patterns, "/", None)
    return out


ROUTES = app_routes()


def concrete(route: str, pk: int) -> str:
    return (
        route.replace("<int:pk>", str(pk))
        .replace("<slug:form_type>", "test_request")
        .replace("<slug:source>", "colleague")
        .replace("<slug:kind>", "customer")
    )


@pytest.mark.parametrize(("route", "name"), ROUTES, ids=[n for _, n in ROUTES])
def test_no_500_on_hostile_input(route: str, name: str, client_for: Any) -> None:
    admin: Client = client_for("管理员")
    fields = [
        "q",
        "username",
        "password",
        "full_name",
        "department",
        "roles",
        "mobile",
        "sort",
        "after",
        "before",
        "last",
        "date_from",
        "date_to",
        "actor",
        "action",
        "object_repr",
        "name",
        "parent",
        "manager",
        "data_scope",
        "permissions",
        "code",
        "items-TOTAL_FORMS",
        "items-INITIAL_FORMS",
        "_action",
        "old_password",
        "new_password1",
        "new_password2",
        "is_active",
        "export",
        "subject",
        "amount",
        "opinion",
        "assign_to",
        "transfer_to",
        "can_edit",
        "pick",
        "source",
        "form_type",
        "status",
        "title",
        "steps-TOTAL_FORMS",
        "steps-INITIAL_FORMS",
    ]
    for pk in (2, 999999):
        url = concrete(route, pk)
        for value in NASTY:
            data = dict.fromkeys(fields, value)
            if name == "accounts:logout":
                continue
            r = admin.get(url, {k: v for k, v in data.items() if k != "export"})
            assert r.status_code < 500, (url, "GET", value)
            r = admin.post(url, data)
            assert r.status_code < 500, (url, "POST", value)


def test_workflow_actions_with_hostile_input(client_for: Any, people: dict[str, Any]) -> None:
    """Every real action of an application, by its applicant and by a stranger, with hostile data."""
    from crm.workflow.models import ApproverKind, Chain, ChainStep
    from crm.workflow.tests.conftest import new_app

    chain = Chain.objects.create(form_type="test_request")
    ChainStep.objects.create(chain=chain, order=1, name="经理审批", approver_kind=ApproverKind.DEPT_MANAGER)
    app = new_app(people["张伟"])
    url = f"/CRM/workflow/{app.pk}/"
    for who in ("张伟", "李明", "杨帆"):
        c = client_for(who)
        for action in ("save", "submit", "approve", "reject", "return", "withdraw", "transfer", "take_back", "delete"):
            for value in NASTY:
                data = {
                    "_action": action,
                    "subject": value,
                    "amount": value,
                    "opinion": value,
                    "assign_to": value,
                    "transfer_to": value,
                    "can_edit": value,
                }
                assert c.post(url, data).status_code < 500, (who, action, value)
