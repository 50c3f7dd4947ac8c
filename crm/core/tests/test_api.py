"""The integration API's own parts: keys, clients, the idempotency of writes, the client pages."""

from __future__ import annotations

import enum
import io
import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from unittest import mock

import psycopg
import pytest
from django.conf import settings
from django.contrib.staticfiles.views import serve
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory
from django.utils import timezone
from pydantic import Field, ValidationError

from crm.core import api as core_api
from crm.core.api import ApiError, Body, client_for_key, idempotency_cleanup, idempotent, labelled
from crm.core.models import ApiClient, AuditLog, IdempotencyKey
from crm.core.services import ApiClientRefused, api_client_create, api_client_new_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def pos() -> tuple[ApiClient, str]:
    core_api.autodiscover()
    return api_client_create(actor=None, name="前台 POS", operations=list(core_api.OPERATIONS))


def post(client: ApiClient, body: dict[str, Any]) -> Any:
    request = RequestFactory().post("/api/v1/things", data=body, content_type="application/json")
    request.auth = client  # type: ignore[attr-defined]
    return request


def test_a_key_is_shown_once_and_stored_only_as_a_hash(pos: tuple[ApiClient, str]) -> None:
    client, key = pos
    assert key.startswith(f"jsh_{client.key_prefix}_")
    assert key not in {client.key_hash, client.key_prefix} and len(client.key_hash) == 64
    assert client_for_key(key) == client
    assert client_for_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert client_for_key("jsh_nothing_here") is None
    assert client_for_key("Bearer " + key) is None
    assert client_for_key("x" * 5000) is None


def test_a_new_key_replaces_the_old_one_at_once(pos: tuple[ApiClient, str], people: dict[str, Any]) -> None:
    client, old = pos
    new = api_client_new_key(actor=people["管理员"], client=client)
    assert client_for_key(old) is None
    assert client_for_key(new) == client
    assert AuditLog.objects.filter(object_id=str(client.pk), changes__has_key="key").exists()


def test_names_and_operations_are_checked() -> None:
    core_api.autodiscover()
    with pytest.raises(ApiClientRefused, match="名称"):
        api_client_create(actor=None, name="  ", operations=[])
    with pytest.raises(ApiClientRefused, match="未知的接口操作"):
        api_client_create(actor=None, name="X", operations=["launch.rockets"])
    api_client_create(actor=None, name="X", operations=[])
    with pytest.raises(ApiClientRefused, match="已有名为"):
        api_client_create(actor=None, name="X", operations=[])


def test_the_command_prints_a_working_key() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_client_create", "收银台 2", stdout=out, stderr=err)
    key = out.getvalue().strip()
    client = client_for_key(key)
    assert client is not None and client.name == "收银台 2"
    assert set(client.operations) == set(core_api.OPERATIONS)
    assert "只显示这一次" in err.getvalue()


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def ok(self) -> tuple[int, dict[str, Any]]:
        self.calls += 1
        ApiClient.objects.create(name=f"written {self.calls}", key_prefix=f"w{self.calls}", key_hash="x")
        return 201, {"n": self.calls}

    def refuse(self) -> tuple[int, dict[str, Any]]:
        self.calls += 1
        ApiClient.objects.create(name=f"half {self.calls}", key_prefix=f"h{self.calls}", key_hash="x")
        raise ApiError(409, "insufficient_points", "积分不足。")


def test_the_same_key_and_body_get_the_first_answer_and_write_nothing(pos: tuple[ApiClient, str]) -> None:
    client, _key = pos
    counter = Counter()
    first = idempotent(post(client, {"a": 1}), "k-1", {"a": 1}, counter.ok)
    again = idempotent(post(client, {"a": 1}), "k-1", {"a": 1}, counter.ok)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.content == again.content == b'{"n": 1}'
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert counter.calls == 1 and ApiClient.objects.filter(name__startswith="written").count() == 1


def test_the_same_key_with_another_body_is_refused(pos: tuple[ApiClient, str]) -> None:
    client, _key = pos
    counter = Counter()
    idempotent(post(client, {"a": 1}), "k-1", {"a": 1}, counter.ok)
    other = idempotent(post(client, {"a": 2}), "k-1", {"a": 2}, counter.ok)
    assert other.status_code == 422 and b"idempotency_key_reused" in other.content
    assert counter.calls == 1


def test_keys_belong_to_their_client(pos: tuple[ApiClient, str]) -> None:
    client, _key = pos
    other, _k = api_client_create(actor=None, name="另一台", operations=[])
    counter = Counter()
    idempotent(post(client, {"a": 1}), "k-1", {"a": 1}, counter.ok)
    idempotent(post(other, {"a": 1}), "k-1", {"a": 1}, counter.ok)
    assert counter.calls == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the advisory lock is PostgreSQL's")
def test_a_retry_while_the_first_is_in_flight_answers_409(pos: tuple[ApiClient, str]) -> None:
    client, _key = pos
    other = psycopg.connect(**connection.get_connection_params(), autocommit=True)
    try:  # another connection is processing the same client's key: it holds the lock
        other.execute("SELECT pg_advisory_lock(%s)", [core_api._lock_id(client, "k-1")])
        counter = Counter()
        response = idempotent(post(client, {}), "k-1", {}, counter.ok)
        assert response.status_code == 409 and b"request_in_progress" in response.content
        assert counter.calls == 0 and not IdempotencyKey.objects.exists()
        response = idempotent(post(client, {}), "k-2", {}, counter.ok)  # another key goes ahead
        assert response.status_code == 201
    finally:
        other.close()


def test_a_duplicate_stored_meanwhile_gets_the_first_answer(pos: tuple[ApiClient, str]) -> None:
    """Two requests with one key can both start (on SQLite, which has no lock; on PostgreSQL, when the first
    commits between the second's snapshot and its lock): the second to store its answer finds the first's, rolls
    its own writes back, and answers with the first's."""
    client, _key = pos
    first = idempotent(post(client, {"a": 1}), "k-1", {"a": 1}, Counter().ok)
    counter = Counter()

    def not_yet(client: ApiClient, key: str) -> tuple[bool, None]:  # it looked before the first stored its answer
        return True, None

    with mock.patch.object(core_api, "_lock_and_find", not_yet):
        again = idempotent(post(client, {"a": 1}), "k-1", {"a": 1}, counter.ok)
    assert counter.calls == 1  # it ran…
    assert again.status_code == 201 and again.content == first.content  # …but answers with the first answer
    assert again["Idempotent-Replayed"] == "true"
    assert ApiClient.objects.filter(name__startswith="written").count() == 1  # and its own write is gone


def test_a_refusal_is_remembered_and_its_writes_undone(pos: tuple[ApiClient, str]) -> None:
    client, _key = pos
    counter = Counter()
    first = idempotent(post(client, {}), "k-1", {}, counter.refuse)
    again = idempotent(post(client, {}), "k-1", {}, counter.refuse)
    assert first.status_code == again.status_code == 409
    assert first.content == again.content
    assert counter.calls == 1
    assert not ApiClient.objects.filter(name__startswith="half").exists()
    assert IdempotencyKey.objects.get(key="k-1").status_code == 409


def test_an_unexpected_failure_lets_a_retry_go_ahead(pos: tuple[ApiClient, str]) -> None:
    client, _key = pos

    def boom() -> tuple[int, dict[str, Any]]:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        idempotent(post(client, {}), "k-1", {}, boom)
    assert not IdempotencyKey.objects.filter(key="k-1").exists()
    assert idempotent(post(client, {}), "k-1", {}, Counter().ok).status_code == 201


@pytest.mark.parametrize("key", ["", "   ", "x" * 129])
def test_a_missing_or_absurd_key_is_refused(pos: tuple[ApiClient, str], key: str) -> None:
    client, _key = pos
    counter = Counter()
    response = idempotent(post(client, {}), key, {}, counter.ok)
    assert response.status_code == 422 and counter.calls == 0


def test_old_keys_are_forgotten_after_the_configured_hours(pos: tuple[ApiClient, str], settings: Any) -> None:
    client, _key = pos
    settings.CRM_API_IDEMPOTENCY_HOURS = 48
    old = IdempotencyKey.objects.create(client=client, key="old", request_hash="x", status_code=201, response="{}")
    recent = IdempotencyKey.objects.create(
        client=client, key="recent", request_hash="x", status_code=201, response="{}"
    )
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=49))
    IdempotencyKey.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(hours=23))
    assert idempotency_cleanup() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]
    settings.CRM_API_IDEMPOTENCY_HOURS = 1  # never less than a day
    assert idempotency_cleanup() == 0


# -- 系统管理 › 接口客户端 ------------------------------------------------------------------------------


def test_the_admin_creates_a_client_sees_the_key_once_and_disables_it(client_for: Any) -> None:
    core_api.autodiscover()
    admin = client_for("管理员")
    operations = list(core_api.OPERATIONS)[:1]
    page = admin.post("/CRM/system/api-clients/new/", {"name": "前台 POS", "operations": operations, "is_active": "on"})
    assert page.status_code == 200, page.content.decode()[:500]
    created = ApiClient.objects.get(name="前台 POS")
    text = page.content.decode()
    key = text.split('data-testid="api-key">', 1)[1].split("<", 1)[0]
    assert client_for_key(key) == created and created.operations == operations
    again = admin.get(f"/CRM/system/api-clients/{created.pk}/").content.decode()
    assert key not in again and created.key_prefix in again
    listed = admin.get("/CRM/system/api-clients/").content.decode()
    assert "前台 POS" in listed and key not in listed
    admin.post(f"/CRM/system/api-clients/{created.pk}/", {"name": "前台 POS", "operations": operations})
    created.refresh_from_db()
    assert created.is_active is False
    assert AuditLog.objects.filter(object_id=str(created.pk), changes__has_key="is_active").exists()


def test_a_clerk_cannot_manage_clients(client_for: Any) -> None:
    clerk = client_for("张伟")
    assert clerk.get("/CRM/system/api-clients/").status_code == 403
    assert clerk.post("/CRM/system/api-clients/new/", {"name": "X"}).status_code == 403
    assert not ApiClient.objects.exists()


def test_a_bad_client_form_explains_and_writes_nothing(client_for: Any) -> None:
    core_api.autodiscover()
    admin = client_for("管理员")
    page = admin.post("/CRM/system/api-clients/new/", {"name": " ", "operations": ["launch.rockets"]})
    assert page.status_code == 422
    assert "名称" in page.content.decode()
    assert not ApiClient.objects.exists()


def test_a_second_client_of_the_same_name_is_refused_in_a_sentence(client_for: Any) -> None:
    core_api.autodiscover()
    admin = client_for("管理员")
    assert admin.post("/CRM/system/api-clients/new/", {"name": "前台 POS"}).status_code == 200
    page = admin.post("/CRM/system/api-clients/new/", {"name": " 前台   POS "})
    assert page.status_code == 422 and "已有名为「前台 POS」的接口客户端" in page.content.decode()
    assert "具有" not in page.content.decode()
    assert ApiClient.objects.count() == 1
    client = ApiClient.objects.get()
    kept = admin.post(f"/CRM/system/api-clients/{client.pk}/", {"name": "前台 POS", "note": "大堂"})
    assert kept.status_code == 200  # its own name is not a duplicate
    # saved without any operation, it is told that every call will be refused
    idle = "「前台 POS」还没有勾选任何允许的操作,它调用接口时都会被拒绝(403 forbidden)。"
    assert idle in kept.content.decode()
    granted = {"name": "前台 POS", "operations": list(core_api.OPERATIONS)[:1], "is_active": "on"}
    assert idle not in admin.post(f"/CRM/system/api-clients/{client.pk}/", granted).content.decode()


# --- the API page and validation messages ------------------------------------------------------------------


def test_the_api_page_takes_every_asset_from_the_app_itself() -> None:
    """The club's intranet has no internet: Swagger UI comes from the app's static files, never a CDN."""
    core_api.autodiscover()
    page = Client().get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"https?:|//cdn", html), html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"swagger-ui-bundle.js", "swagger-ui.css"} <= {a.rsplit("/", 1)[-1] for a in assets}
    for url in assets:
        assert url.startswith(settings.STATIC_URL), url
        served = serve(RequestFactory().get(url), url.removeprefix(settings.STATIC_URL), insecure=True)
        assert served.status_code == 200 and b"".join(served.streaming_content), url


class Shape(enum.Enum):
    ROUND = "round"
    SQUARE = "square"


class Thing(Body):
    size: Literal["s", "m", 3]
    colour: Annotated[Literal["red", "blue"], labelled([("red", "红色"), ("blue", "蓝色")])]
    shape: Shape
    name: str = Field(min_length=1)
    note: str = ""


def test_a_wrong_choice_is_named_in_chinese_with_the_labels_the_field_gives() -> None:
    with pytest.raises(ValidationError) as info:
        Thing(size="xl", colour="green", shape="oval", name="x")
    assert [core_api._problem(e) for e in info.value.errors()] == [
        "须为以下之一:s、m、3",
        "须为以下之一:red(红色)、blue(蓝色)",
        "须为以下之一:round、square",
    ]


def test_text_of_only_spaces_in_a_body_is_empty() -> None:
    with pytest.raises(ValidationError) as info:
        Thing(size="s", colour="red", shape="round", name=" \u3000\t")
    assert [core_api._problem(e) for e in info.value.errors()] == ["不能为空"]
    thing = Thing(size="s", colour="red", shape="round", name=" 张 ", note="  ")
    assert (thing.name, thing.note) == (" 张 ", "")  # the services strip what they store
