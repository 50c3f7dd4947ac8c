"""The POS API under concurrent retries, on real PostgreSQL connections (one per thread)."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.test import Client

from crm.accounts.demo import load_demo
from crm.accounts.models import User
from crm.core.api import OPERATIONS, autodiscover
from crm.core.models import IdempotencyKey
from crm.core.services import api_client_create
from crm.loyalty.models import Consumption, EntryKind, PointsEntry

from .conftest import consistent, make_member

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent connections (PostgreSQL)"),
]

THREADS = 10
POSTS = 1000


def test_a_thousand_retries_of_one_sale_from_ten_threads_write_it_once() -> None:
    load_demo()
    autodiscover()
    member = make_member(User.objects.get(username="张伟"), card_no="JSH2026900001")
    _client, key = api_client_create(actor=None, name="前台 POS", operations=list(OPERATIONS))
    body = json.dumps({"card_no": member.card_no, "order_no": "P-1", "amount": "888.00", "category": "dining"})
    statuses: Counter[int] = Counter()
    answers: set[bytes] = set()
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def pos() -> None:
        http = Client()
        try:
            barrier.wait()
            for _ in range(POSTS // THREADS):
                response = http.post(
                    "/api/v1/consumptions",
                    body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {key}",
                    HTTP_IDEMPOTENCY_KEY="sale-P-1",
                )
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 201:
                        answers.add(response.content)
        except BaseException as exc:  # a thread's crash must fail the test
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pos) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(statuses.values()) == POSTS
    assert set(statuses) <= {201, 409}, statuses  # the first answer, or "still in progress, retry"
    assert statuses[201] >= 1
    assert len(answers) == 1, answers  # every 201 is the same answer
    assert Consumption.objects.count() == 1
    assert PointsEntry.objects.filter(kind=EntryKind.EARN).count() == 1
    assert PointsEntry.objects.count() == 1
    assert consistent(member) == 888
    assert IdempotencyKey.objects.get().status_code == 201
    assert json.loads(answers.pop())["balance"] == 888


def test_concurrent_redemptions_through_the_api_never_overspend() -> None:
    load_demo()
    autodiscover()
    member = make_member(User.objects.get(username="张伟"), card_no="JSH2026900002")
    _client, key = api_client_create(actor=None, name="前台 POS", operations=list(OPERATIONS))
    http = Client()
    sale = {"card_no": member.card_no, "order_no": "P-1", "amount": "1000.00", "category": "dining"}
    first = http.post(
        "/api/v1/consumptions",
        json.dumps(sale),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_IDEMPOTENCY_KEY="sale",
    )
    assert first.json()["balance"] == 1000
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def redeem(i: int) -> None:
        try:
            barrier.wait()
            response = Client().post(
                "/api/v1/redemptions",
                json.dumps({"card_no": member.card_no, "points": 100}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {key}",
                HTTP_IDEMPOTENCY_KEY=f"redeem-{i}",
            )
            with lock:
                statuses[response.status_code] += 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == Counter({201: 10, 409: 40})
    assert consistent(member) == 0


def test_one_redemption_order_sent_at_once_under_different_keys_is_taken_once() -> None:
    load_demo()
    autodiscover()
    member = make_member(User.objects.get(username="张伟"), card_no="JSH2026900003")
    _client, key = api_client_create(actor=None, name="前台 POS", operations=list(OPERATIONS))
    sale = {"card_no": member.card_no, "order_no": "P-1", "amount": "1000.00", "category": "dining"}
    Client().post(
        "/api/v1/consumptions",
        json.dumps(sale),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_IDEMPOTENCY_KEY="sale",
    )
    codes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def redeem(i: int) -> None:
        try:
            barrier.wait()
            response = Client().post(
                "/api/v1/redemptions",
                json.dumps({"card_no": member.card_no, "points": 100, "order_no": "GIFT-7"}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {key}",
                HTTP_IDEMPOTENCY_KEY=f"redeem-{i}",
            )
            with lock:
                codes[str(response.status_code) + " " + response.json().get("code", "")] += 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=redeem, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == Counter({"201 ": 1, "409 duplicate_order": 19})
    assert consistent(member) == 900
    assert PointsEntry.objects.filter(kind=EntryKind.REDEEM, source_ref="pos:GIFT-7").count() == 1
