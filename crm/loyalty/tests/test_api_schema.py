"""schemathesis against the OpenAPI document: generated requests, valid and not, never answer 500 and every answer
matches the document (status codes, content type, body schema); a request the document forbids is refused.

One check is left out: ``positive_data_acceptance`` expects every request the document allows to succeed, but the
business rules go beyond what a schema can say (a sale dated in the future, a refund larger than what is left of
its sale, a mobile that is not 11 digits): those answer 422 with their reason, as the API promises."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from crm.core.api import OPERATIONS, autodiscover
from crm.core.services import api_client_create

from .conftest import make_member


def _schema() -> Any:
    from config.wsgi import application

    autodiscover()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


schema = _schema()  # the document needs no database: it is read when the module is collected


@pytest.fixture
def key(transactional_db: None, people: dict[str, Any]) -> str:
    make_member(people["张伟"], name="钱总", mobile="13900001111", card_no="JSH2026900001")
    _client, key = api_client_create(actor=None, name="前台 POS", operations=list(OPERATIONS))
    return key


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("CRM_API_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_answers_every_request_as_documented(case: Any, key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, excluded_checks=[positive_data_acceptance])
