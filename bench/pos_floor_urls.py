"""What this machine gives before any of our work: two endpoints served only while ``bench/pos.py`` measures its
floors, by the same gunicorn, settings and middleware as the real API, beside it.

- ``/bench/noop``: the same request (the bearer key checked by the API's own authentication, the same JSON body
  parsed and validated by django-ninja) answered at once. The framework's ceiling.
- ``/bench/thin``: the rows a consumption post writes (the idempotency key under its advisory lock, the consumption,
  its earn entry and points lot, the account's balance under its row lock, the audit row) and the level check's sum,
  in one transaction of five hand-written statements. It applies no rule beyond the multiplier (no rounding rule,
  no upgrade, no replay of a stored answer, no checks): a floor to measure against, not an implementation.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI

from config.urls import urlpatterns as application
from crm.core.api import ApiKey
from crm.loyalty.api import ConsumptionIn, IdempotencyKey

floor = NinjaAPI(urls_namespace="bench-floor", auth=ApiKey(), docs_url=None, openapi_url=None)

ACCOUNT = """
SELECT a.id, a.balance, l.multiplier, s.expiry_months, c.id
FROM customers_customer c
JOIN loyalty_pointsaccount a ON a.customer_id = c.id
JOIN loyalty_memberlevel l ON l.id = a.level_id
CROSS JOIN loyalty_loyaltysettings s
WHERE c.card_no = %(card)s AND c.status IN ('formal', 'handed_over')
FOR UPDATE OF a
"""

WRITE = """
WITH sale AS (
    INSERT INTO loyalty_consumption (occurred_at, amount, category, venue, order_no, order_seq, payment, source,
                                     client_key, note, created_at, customer_id)
    VALUES (%(now)s, %(amount)s, %(category)s, '', %(order)s, 0, %(payment)s, 'api', %(client)s, '', %(now)s,
            %(customer)s)
    RETURNING id
), entry AS (
    INSERT INTO loyalty_pointsentry (kind, points, balance_after, reason, source_ref, created_at, account_id,
                                     consumption_id)
    SELECT 'earn', %(points)s, %(balance)s, %(category)s, '', %(now)s, %(account)s, sale.id FROM sale
    RETURNING id
), lot AS (
    INSERT INTO loyalty_pointslot (points, remaining, expires_on, account_id, entry_id)
    SELECT %(points)s, %(points)s, %(expires)s, %(account)s, entry.id FROM entry
), balance AS (
    UPDATE loyalty_pointsaccount SET balance = balance + %(points)s, updated_at = %(now)s WHERE id = %(account)s
), audit AS (
    INSERT INTO core_auditlog (at, actor_name, action, object_id, object_repr, changes)
    SELECT %(now)s, %(actor)s, 'create', sale.id::text, %(repr)s, %(changes)s::jsonb FROM sale
)
SELECT sale.id FROM sale
"""


@floor.post("/noop")
def noop(request: HttpRequest, payload: ConsumptionIn, idempotency_key: IdempotencyKey) -> dict[str, int]:
    return {"ok": 1}


@floor.post("/thin")
def thin(request: HttpRequest, payload: ConsumptionIn, idempotency_key: IdempotencyKey) -> HttpResponse:
    client = request.auth  # type: ignore[attr-defined]
    now = timezone.now()
    lock = int.from_bytes(hashlib.blake2b(f"{client.pk}:{idempotency_key}".encode(), digest_size=8).digest(), "big")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s), "
            "(SELECT id FROM core_idempotencykey WHERE client_id = %s AND key = %s)",
            [lock - (1 << 63), client.pk, idempotency_key],
        )
        cursor.execute(ACCOUNT, {"card": payload.card_no})
        account, balance, multiplier, months, customer = cursor.fetchone()
        points = int(payload.amount * multiplier)
        values: dict[str, Any] = {
            "now": now,
            "amount": payload.amount,
            "category": payload.category,
            "order": payload.order_no,
            "payment": payload.payment or "",
            "client": f"api:{client.pk}",
            "customer": customer,
            "points": points,
            "balance": balance + points,
            "account": account,
            "expires": (now + timedelta(days=30 * months)).date(),
            "actor": f"接口:{client.name}",
            "repr": f"消费 {payload.amount} 元",
            "changes": json.dumps({"amount": str(payload.amount), "order_no": payload.order_no}),
        }
        cursor.execute(WRITE, values)
        (sale,) = cursor.fetchone()
        cursor.execute(
            "SELECT SUM(amount) FROM loyalty_consumption WHERE customer_id = %s AND occurred_at > %s",
            [customer, now - timedelta(days=365)],
        )
        body = json.dumps({"id": sale, "points": points, "balance": balance + points})
        cursor.execute(
            "INSERT INTO core_idempotencykey (key, request_hash, status_code, response, created_at, client_id) "
            "VALUES (%s, %s, 201, %s, %s, %s)",
            [idempotency_key, hashlib.sha256(request.body).hexdigest(), body, now, client.pk],
        )
    return HttpResponse(body, status=201, content_type="application/json")


urlpatterns = [path("bench/", floor.urls), *application]
