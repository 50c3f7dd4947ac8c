"""The integration API (``/api/v1/``, django-ninja): clients and their keys, errors, idempotent writes.

Domain apps add their endpoints to ``api`` from their own ``api.py`` (loaded by ``autodiscover``) and declare
the operations a client may be allowed (``operation``). Every error is JSON with a stable ``code`` and a
Chinese ``message``; nothing a client sends answers 500.

A write takes an ``Idempotency-Key`` header and goes through ``idempotent``: the same key with the same body
gets the first answer again and writes nothing; the same key with another body answers 422; a retry while
the first is still being processed answers 409 (on PostgreSQL; see ``idempotent``). Keys are kept
``CRM_API_IDEMPOTENCY_HOURS`` (at least 24).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from pydantic import ValidationError, ValidatorFunctionWrapHandler, WrapValidator, field_validator
from pydantic_core import PydanticCustomError

from .models import ApiClient, IdempotencyKey

KEY_PREFIX = "jsh_"


# ---------------------------------------------------------------------------------------------------
# Operations a client may be allowed
# ---------------------------------------------------------------------------------------------------

OPERATIONS: dict[str, Any] = {}


def operation(code: str, label: Any) -> str:
    """Declare an operation clients can be allowed (shown as a checkbox on the client's page)."""
    OPERATIONS[code] = label
    return code


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An answer other than success: HTTP status, stable code, one Chinese sentence."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


class Error(Schema):
    code: str
    message: str


# ---------------------------------------------------------------------------------------------------
# Request bodies
# ---------------------------------------------------------------------------------------------------


class Body(Schema):
    """A request body (a domain app's bodies derive from it). Text of only spaces counts as empty, since the
    services store text stripped: a required text field (``min_length=1``) of spaces is refused like ""
    (「order_no 不能为空」) instead of being stored empty, where an order number would no longer catch a sale
    posted twice."""

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_empty(cls, value: Any) -> Any:
        return "" if isinstance(value, str) and not value.strip() else value


def labelled(choices: Iterable[tuple[Any, Any]]) -> WrapValidator:
    """Metadata for a ``Literal`` field whose codes have labels, ``Annotated[Code, labelled(Model.choices)]``: a
    value that is none of the codes is refused naming each with its label, 「dining(餐饮)、tea_wine(茶酒)…」."""
    pairs = list(choices)

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            error = exc.errors()[0]
            if error["type"] not in ("literal_error", "enum"):
                raise
            options = [f"{code}({label})" for code, label in pairs]  # the labels in the request's language
            ctx = {**error.get("ctx", {}), "options": options}
            raise PydanticCustomError("literal_error", "Input should be {expected}", ctx) from None

    return WrapValidator(check)


def error_response(status: int, code: str, message: str, **extra: Any) -> JsonResponse:
    body = {"code": code, "message": message, **extra}
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


# ---------------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------------


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """A new key: (the key to show once, its prefix, its hash)."""
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, _hash(key)


def client_for_key(key: str) -> ApiClient | None:
    """The client a key belongs to (enabled or not), or ``None``."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    client = ApiClient.objects.filter(key_prefix=prefix).first()
    if client is None or not hmac.compare_digest(client.key_hash, _hash(key)):
        return None
    return client


class ApiKey(HttpBearer):
    """``Authorization: Bearer <key>``. A disabled client is refused with its own sentence."""

    openapi_description = "接口密钥:Authorization: Bearer jsh_…"

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = client_for_key(token.strip())
        if client is None:
            return None
        if not client.is_active:
            raise ApiError(403, "client_disabled", _("该接口客户端已停用,请联系系统管理员。"))
        return client


def require(request: HttpRequest, code: str) -> ApiClient:
    """The calling client, if it is allowed ``code``; else 403."""
    client: ApiClient = request.auth  # type: ignore[attr-defined]
    if code not in (client.operations or []):
        label = OPERATIONS.get(code, code)
        raise ApiError(403, "forbidden", _("该接口客户端无权执行「%(op)s」。") % {"op": label})
    return client


# ---------------------------------------------------------------------------------------------------
# Idempotent writes
# ---------------------------------------------------------------------------------------------------


def _fingerprint(request: HttpRequest, payload: Any) -> str:
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _lock_id(client: ApiClient, key: str) -> int:
    """A signed 64-bit number for the (client, key) pair: the transaction-level advisory lock's name."""
    digest = hashlib.blake2b(f"{client.pk}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _replay(row: IdempotencyKey, fingerprint: str) -> HttpResponse:
    """What a retry gets: the stored answer, byte for byte, or 422 when the key came with another body."""
    if row.request_hash != fingerprint:
        return error_response(
            422, "idempotency_key_reused", _("这个 Idempotency-Key 已用于另一个请求;每个新请求须使用新的键。")
        )
    response = HttpResponse(row.response, status=row.status_code, content_type="application/json")
    response["Idempotent-Replayed"] = "true"
    return response


def _in_flight() -> HttpResponse:
    return error_response(409, "request_in_progress", _("相同 Idempotency-Key 的请求正在处理,请稍后重试。"))


def _lock_and_find(client: ApiClient, key: str) -> tuple[bool, IdempotencyKey | None]:
    """Whether this transaction holds the key's lock, and the answer stored under the key if any.

    On PostgreSQL one statement takes the advisory lock and reads the key. Its snapshot predates the lock, so an
    answer committed by another request in between is not seen: this request then runs, its own writes collide
    with the first's (the order number, then the key) and roll back, and the stored answer is replayed."""
    if connection.vendor != "postgresql":
        return True, IdempotencyKey.objects.filter(client=client, key=key).first()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(%s), k.request_hash, k.status_code, k.response "
            "FROM (VALUES (1)) AS one LEFT JOIN core_idempotencykey k ON k.client_id = %s AND k.key = %s",
            [_lock_id(client, key), client.pk, key],
        )
        locked, request_hash, status_code, response = cursor.fetchone()
    if request_hash is None:
        return locked, None
    return locked, IdempotencyKey(
        client=client, key=key, request_hash=request_hash, status_code=status_code, response=response
    )


def idempotent(request: HttpRequest, key: str, payload: Any, handler: Callable[[], tuple[int, Any]]) -> HttpResponse:
    """Run ``handler`` (which writes, and returns ``(status, body)`` or raises ``ApiError``) at most once per
    client and key, in one transaction with the stored answer.

    On PostgreSQL the transaction first takes an advisory lock named after the client and key: a concurrent
    request with the same key does not get it and answers 409 at once, instead of waiting. Elsewhere (SQLite, one
    writer at a time) a concurrent duplicate finds the key taken when it stores its answer, and is answered with
    the first request's answer, its own writes rolled back."""
    key = (key or "").strip()
    if not key or len(key) > 128:
        return error_response(422, "invalid_idempotency_key", _("Idempotency-Key 须为 1 到 128 个字符。"))
    client: ApiClient = request.auth  # type: ignore[attr-defined]
    fingerprint = _fingerprint(request, payload)
    try:
        with transaction.atomic():
            locked, row = _lock_and_find(client, key)
            if not locked:
                return _in_flight()
            if row is not None:
                return _replay(row, fingerprint)
            try:
                with transaction.atomic():  # a refusal undoes whatever the handler wrote, not the answer
                    status, body = handler()
            except ApiError as exc:
                status, body = exc.status, exc.body()
            content = json.dumps(body, ensure_ascii=False, cls=DjangoJSONEncoder)
            IdempotencyKey.objects.create(
                client=client, key=key, request_hash=fingerprint, status_code=status, response=content
            )
    except IntegrityError:
        row = IdempotencyKey.objects.filter(client=client, key=key).first()
        if row is None:
            raise
        return _replay(row, fingerprint)  # stored meanwhile by a concurrent request with the same key
    return HttpResponse(content, status=status, content_type="application/json")


def idempotency_cleanup(now: Any = None) -> int:
    """Forget keys older than ``CRM_API_IDEMPOTENCY_HOURS`` (at least 24 h)."""
    hours = max(24, int(settings.CRM_API_IDEMPOTENCY_HOURS))
    cutoff = (now or timezone.now()) - timedelta(hours=hours)
    deleted, _counts = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# ---------------------------------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------------------------------

api = NinjaAPI(
    title="金仕会 CRM 接口",
    version="1",
    description="会员查询、消费上传、积分兑换。说明见 docs/api.md。",
    auth=ApiKey(),
    urls_namespace="api",
    docs_url="/docs",
)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(401, "unauthorized", _("缺少接口密钥或密钥不正确(请求头 Authorization: Bearer <密钥>)。"))


_EXPECTED_VALUE = re.compile(r"'[^']*'|\"[^\"]*\"|[^\s,]+")


def _allowed(ctx: dict[str, Any]) -> str:
    """The values a literal or enum field takes, joined by 、: with their labels where the field gives them
    (``labelled``), else as pydantic lists them (``'a', 'b' or 'c'``) without its quotes and English "or"."""
    if "options" in ctx:
        return "、".join(ctx["options"])
    values = _EXPECTED_VALUE.findall(str(ctx.get("expected", "")))
    return "、".join(v.strip("'\"") for v in values if v != "or")


def _problem(error: dict[str, Any]) -> str:
    """One validation error as a Chinese phrase (the POS shows ``message`` to the cashier)."""
    ctx = error.get("ctx") or {}
    kind = str(error.get("type", ""))
    phrases: dict[str, Any] = {
        "missing": lambda: _("必须填写"),
        "greater_than": lambda: _("须大于 %(v)s") % {"v": ctx.get("gt")},
        "greater_than_equal": lambda: _("须不小于 %(v)s") % {"v": ctx.get("ge")},
        "less_than": lambda: _("须小于 %(v)s") % {"v": ctx.get("lt")},
        "less_than_equal": lambda: _("不能大于 %(v)s") % {"v": ctx.get("le")},
        "decimal_max_digits": lambda: _("数字太大(最多 %(n)s 位数字)") % {"n": ctx.get("max_digits")},
        "decimal_whole_digits": lambda: _("数字太大(整数部分最多 %(n)s 位)") % {"n": ctx.get("whole_digits")},
        "decimal_max_places": lambda: _("最多 %(n)s 位小数") % {"n": ctx.get("decimal_places")},
        "string_too_short": lambda: _("不能为空") if ctx.get("min_length") == 1 else _("太短"),
        "string_too_long": lambda: _("不能超过 %(n)s 个字符") % {"n": ctx.get("max_length")},
        "string_pattern_mismatch": lambda: _("含有不允许的字符"),
        "literal_error": lambda: _("须为以下之一:%(v)s") % {"v": _allowed(ctx)},
        "enum": lambda: _("须为以下之一:%(v)s") % {"v": _allowed(ctx)},
    }
    if kind in phrases:
        return str(phrases[kind]())
    if kind.startswith(("decimal_", "int_", "float_")):
        return _("不是有效的数字")
    if kind.startswith(("datetime_", "date_")):
        return _("不是有效的时间(例如 2026-11-20T19:30:00+08:00)")
    if kind.startswith("string_"):
        return _("须为文字")
    return _("格式不对")


@api.exception_handler(NinjaValidationError)
def _invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = []
    for error in exc.errors[:10]:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "payload", "query", "header", "path")]
        fields.append({"field": ".".join(loc), "problem": _problem(error)})
    if any(f["field"] == "Idempotency-Key" for f in fields):
        return error_response(422, "invalid_idempotency_key", _("Idempotency-Key 须为 1 到 128 个字符。"))
    parts = [f"{f['field'] or _('请求体')} {f['problem']}" for f in fields]
    return error_response(422, "invalid", _("请求内容不正确:%(fields)s。") % {"fields": ";".join(parts)}, errors=fields)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        return error_response(422, "invalid", _("请求内容不是有效的 JSON。"))
    return error_response(exc.status_code, "error", str(exc.message)[:200])


def autodiscover() -> NinjaAPI:
    """Load every installed app's ``api`` module, which adds its endpoints to ``api``."""
    autodiscover_modules("api")
    return api
