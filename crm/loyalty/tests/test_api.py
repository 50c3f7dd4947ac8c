"""The POS API over HTTP: keys and operations, lookup, consumption, refunds, redemption, idempotency, errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm.core.api import OPERATIONS, autodiscover
from crm.core.models import ApiClient, AuditLog
from crm.core.services import api_client_create
from crm.customers.models import Customer, CustomerStatus
from crm.loyalty import services
from crm.loyalty.models import Consumption, PointsEntry

from .conftest import account, consistent, make_member

pytestmark = pytest.mark.django_db

BASE = "/api/v1"


class Pos:
    """A POS terminal: an HTTP client with its key."""

    def __init__(self, key: str) -> None:
        self.http = Client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(f"{BASE}{path}", params, **self.auth)

    def post(self, path: str, body: Any, key: str | bool | None = None, raw: bytes | None = None) -> Any:
        headers = dict(self.auth)
        if key is not False:
            headers["HTTP_IDEMPOTENCY_KEY"] = str(key or uuid.uuid4())
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False)
        return self.http.post(f"{BASE}{path}", data, content_type="application/json", **headers)


@pytest.fixture
def pos(demo: Any) -> Pos:
    autodiscover()
    _client, key = api_client_create(actor=None, name="前台 POS", operations=list(OPERATIONS))
    return Pos(key)


@pytest.fixture
def vip(people: dict[str, Any]) -> Customer:
    return make_member(people["张伟"], name="钱总", mobile="13900001111", card_no="JSH2026900001")


def sale(card_no: str, order_no: str = "P-1", amount: str = "1000.00", **kw: Any) -> dict[str, Any]:
    return {"card_no": card_no, "order_no": order_no, "amount": amount, "category": "dining", **kw}


def test_lookup_by_card_or_mobile(pos: Pos, vip: Customer) -> None:
    by_card = pos.get("/members/lookup", card_no=vip.card_no.lower())
    assert by_card.status_code == 200, by_card.content
    body = by_card.json()
    assert body == {
        "card_no": "JSH2026900001",
        "name": "钱总",
        "mobile": "139****1111",
        "level": "普卡",
        "balance": 0,
        "expiring_30_days": 0,
    }
    assert pos.get("/members/lookup", mobile="139 0000 1111").json()["card_no"] == vip.card_no
    assert pos.get(f"/members/{vip.card_no}").json()["name"] == "钱总"


def test_lookup_refusals(pos: Pos, vip: Customer, people: dict[str, Any]) -> None:
    missing = pos.get("/members/lookup", card_no="NOPE")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_member"
    assert "NOPE" in missing.json()["message"]
    assert pos.get("/members/lookup").status_code == 422
    assert pos.get("/members/lookup", mobile="123").json()["code"] == "invalid"
    make_member(people["刘洋"], name="钱太太", mobile="13900001111")
    twice = pos.get("/members/lookup", mobile="13900001111")
    assert twice.status_code == 409 and twice.json()["code"] == "ambiguous_member"
    registering = make_member(people["张伟"], name="赵先生", status=CustomerStatus.REGISTERING, card_no="JSH-R")
    assert pos.get(f"/members/{registering.card_no}").status_code == 404
    assert pos.get("/members/JSH2026900002/ledger").status_code == 404


def test_a_card_and_a_mobile_must_be_the_same_members(pos: Pos, vip: Customer, people: dict[str, Any]) -> None:
    other = make_member(people["张伟"], name="孙总", mobile="13812348765")
    for mobile, shown in [(other.mobile, "138****8765"), ("13700000000", "137****0000"), ("12-34", "12-34")]:
        response = pos.get("/members/lookup", card_no=vip.card_no, mobile=mobile)
        assert response.status_code == 422 and response.json()["code"] == "invalid", response.content
        assert response.json()["message"] == f"会员卡号「JSH2026900001」与手机号「{shown}」不是同一位会员。"
    both = pos.get("/members/lookup", card_no=vip.card_no, mobile="139 0000 1111")
    assert both.status_code == 200 and both.json()["card_no"] == vip.card_no
    assert pos.get("/members/lookup", card_no=vip.card_no, mobile=" ").json()["card_no"] == vip.card_no


def test_a_sale_earns_points_and_the_ledger_shows_it(pos: Pos, vip: Customer) -> None:
    response = pos.post("/consumptions", sale(vip.card_no, amount="1234.56", payment="wechat", venue="中餐厅"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["points"] == 1234 and body["balance"] == 1234 and body["level"] == "普卡"
    record = Consumption.objects.get(pk=body["id"])
    assert (record.source, record.client_key, record.order_no) == ("api", f"api:{ApiClient.objects.get().pk}", "P-1")
    assert consistent(vip) == 1234
    ledger = pos.get(f"/members/{vip.card_no}/ledger").json()
    assert [(e["kind"], e["points"], e["order_no"]) for e in ledger] == [("earn", 1234, "P-1")]
    assert ledger[0]["at"].endswith("+08:00")  # the club's time, as the document's examples show
    entry = AuditLog.objects.filter(object_repr__startswith="消费").get()
    assert entry.actor_name == "接口:前台 POS" and entry.object_id == str(record.pk)


def test_a_sale_of_a_member_with_an_account_costs_a_fixed_number_of_statements(pos: Pos, vip: Customer) -> None:
    """The member, the account and its level are read (and the account locked) in one statement; the upgrade check
    and the rolling sum in one; on PostgreSQL the idempotency lock and the stored answer in one. Counted with the
    transaction's own statements (BEGIN, savepoints, COMMIT)."""
    assert pos.post("/consumptions", sale(vip.card_no, "P-0")).status_code == 201  # opens the account
    with CaptureQueriesContext(connection) as ctx:
        assert pos.post("/consumptions", sale(vip.card_no, "P-1")).status_code == 201
    statements = [q["sql"].split()[0] for q in ctx.captured_queries]
    assert statements.count("SELECT") == 6, ctx.captured_queries  # key, lock+answer, card, member+account, …
    assert len(statements) == 20, statements


def test_the_same_key_and_body_write_once(pos: Pos, vip: Customer) -> None:
    first = pos.post("/consumptions", sale(vip.card_no), key="k-1")
    again = pos.post("/consumptions", sale(vip.card_no), key="k-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    other = pos.post("/consumptions", sale(vip.card_no, amount="5.00"), key="k-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Consumption.objects.count() == 1 and PointsEntry.objects.count() == 1


def test_an_order_number_counts_once_even_under_a_new_key(pos: Pos, vip: Customer) -> None:
    assert pos.post("/consumptions", sale(vip.card_no)).status_code == 201
    again = pos.post("/consumptions", sale(vip.card_no))
    assert again.status_code == 409 and again.json()["code"] == "duplicate_order"
    assert Consumption.objects.count() == 1 and account(vip).balance == 1000


def test_refunds_reverse_what_the_sale_earned(pos: Pos, vip: Customer) -> None:
    pos.post("/consumptions", sale(vip.card_no, amount="1000.00"))
    part = pos.post("/refunds", {"order_no": "R-1", "original_order_no": "P-1", "amount": "400.00"})
    assert part.status_code == 201, part.content
    assert (part.json()["points"], part.json()["balance"], part.json()["amount"]) == (-400, 600, "-400.00")
    too_much = pos.post("/refunds", {"order_no": "R-2", "original_order_no": "P-1", "amount": "600.01"})
    assert too_much.status_code == 422 and too_much.json()["code"] == "invalid"
    assert "尚可退的 600.00 元" in too_much.json()["message"] and too_much.json()["refundable"] == "600.00"
    unknown = pos.post("/refunds", {"order_no": "R-3", "original_order_no": "P-404", "amount": "1.00"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_order"
    rest = pos.post("/refunds", {"order_no": "R-4", "original_order_no": "P-1", "amount": "600.00"})
    assert rest.json()["balance"] == 0
    assert consistent(vip) == 0
    nothing_left = pos.post("/refunds", {"order_no": "R-5", "original_order_no": "P-1", "amount": "0.01"})
    assert nothing_left.json()["message"] == "这笔消费已全部退款。" and nothing_left.json()["refundable"] == "0.00"
    # a refund's own number is not a sale's: said so, not 「找不到」
    of_refund = pos.post("/refunds", {"order_no": "R-6", "original_order_no": "R-1", "amount": "1.00"})
    assert of_refund.status_code == 422 and of_refund.json()["code"] == "invalid"
    assert of_refund.json()["message"] == "「R-1」是退款单号,不能再退款;original_order_no 请填写原消费的订单号。"


def test_the_ledger_gives_every_entry_its_order_number_or_null(pos: Pos, vip: Customer) -> None:
    services.consumption_record(customer=vip, amount="20.00", category="dining", source="manual")  # no number
    pos.post("/consumptions", sale(vip.card_no, amount="500.00"))
    pos.post("/redemptions", {"card_no": vip.card_no, "points": 100, "order_no": "X-001"})
    pos.post("/redemptions", {"card_no": vip.card_no, "points": 10})
    pos.post("/refunds", {"order_no": "R-1", "original_order_no": "P-1", "amount": "100.00"})
    services.points_gift(customer=vip, points=5, reason="生日礼遇")
    ledger = pos.get(f"/members/{vip.card_no}/ledger").json()
    assert [(e["kind"], e["order_no"]) for e in ledger] == [
        ("gift", None),
        ("reversal", "R-1"),
        ("redeem", None),
        ("redeem", "X-001"),
        ("earn", "P-1"),
        ("earn", None),
    ]


def test_redemption_and_insufficient_points(pos: Pos, vip: Customer) -> None:
    pos.post("/consumptions", sale(vip.card_no, amount="150.00"))
    ok = pos.post("/redemptions", {"card_no": vip.card_no, "points": 100, "order_no": "X-1"})
    assert ok.status_code == 201 and ok.json()["balance"] == 50 and ok.json()["points"] == -100
    short = pos.post("/redemptions", {"card_no": vip.card_no, "points": 51})
    assert short.status_code == 409 and short.json()["code"] == "insufficient_points"
    assert "积分不足" in short.json()["message"] and "还差 1" in short.json()["message"]
    assert consistent(vip) == 50
    # the same redemption order again, under a new key (a POS retrying its own way), is not taken twice
    again = pos.post("/redemptions", {"card_no": vip.card_no, "points": 10, "order_no": "X-1"})
    assert again.status_code == 409 and again.json()["code"] == "duplicate_order"
    assert "兑换单号「X-1」已经兑换过(100 积分)" in again.json()["message"]
    assert consistent(vip) == 50
    # without an order number there is nothing to compare: each is its own redemption
    assert pos.post("/redemptions", {"card_no": vip.card_no, "points": 10}).status_code == 201
    assert pos.post("/redemptions", {"card_no": vip.card_no, "points": 10}).status_code == 201
    assert consistent(vip) == 30


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"amount": "-5"}, "amount 须大于 0"),
        ({"amount": "0"}, "amount 须大于 0"),
        ({"amount": "10000000.01"}, "amount 不能大于 10000000.00"),
        ({"amount": "1.001"}, "amount 最多 2 位小数"),
        ({"amount": 0.1 + 0.2}, "amount 最多 2 位小数"),  # a float's binary tail is its decimals, not its size
        ({"amount": "abc"}, "amount 不是有效的数字"),
        ({"category": "casino"}, "category 须为以下之一:dining(餐饮)、tea_wine(茶酒)、"),
        ({"order_no": ""}, "order_no 不能为空"),
        ({"order_no": "x" * 65}, "order_no 不能超过 64 个字符"),
        ({"occurred_at": "yesterday"}, "occurred_at 不是有效的时间"),
        ({"card_no": None}, "card_no 须为文字"),
    ],
)
def test_bad_bodies_answer_422_in_chinese_and_write_nothing(
    pos: Pos, vip: Customer, body: dict[str, Any], said: str
) -> None:
    response = pos.post("/consumptions", {**sale(vip.card_no), **body})
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid" and said in response.json()["message"], response.json()
    assert "Input should" not in response.content.decode()
    assert not Consumption.objects.exists()


@pytest.mark.parametrize("blank", [" ", "   ", "\u3000", "\t\n"])
def test_a_required_text_of_only_spaces_is_refused_like_an_empty_one(pos: Pos, vip: Customer, blank: str) -> None:
    """Stored stripped, it would be an empty order number, which catches no sale posted twice."""

    def refused(path: str, body: dict[str, Any], said: str) -> None:
        response = pos.post(path, body)
        assert response.status_code == 422, response.content
        assert response.json()["code"] == "invalid" and said in response.json()["message"], response.json()

    refused("/consumptions", sale(vip.card_no, order_no=blank), "order_no 不能为空")
    refused("/consumptions", sale(blank), "card_no 不能为空")
    assert pos.post("/consumptions", sale(vip.card_no, order_no=" P-1 ")).json()["order_no"] == "P-1"
    refused("/refunds", {"order_no": blank, "original_order_no": "P-1", "amount": "1.00"}, "order_no 不能为空")
    refused("/refunds", {"order_no": "R-1", "original_order_no": blank, "amount": "1.00"}, "original_order_no 不能为空")
    refused("/redemptions", {"card_no": blank, "points": 1}, "card_no 不能为空")
    assert Consumption.objects.count() == 1 and account(vip).balance == 1000


def test_a_wrong_code_is_refused_naming_every_code_with_its_label(pos: Pos, vip: Customer) -> None:
    response = pos.post("/consumptions", sale(vip.card_no, category="餐饮", payment="bitcoin"))
    assert response.status_code == 422, response.content
    message = response.json()["message"]
    assert (
        "category 须为以下之一:dining(餐饮)、tea_wine(茶酒)、room(客房)、spa(SPA)、entertainment(娱乐)、"
        "membership(会籍)、other(其他)"
    ) in message
    assert (
        "payment 须为以下之一:cash(现金)、card(刷卡)、stored_value(储值)、transfer(转账)、wechat(微信)、"
        "alipay(支付宝)、on_account(挂账)、other(其他)"
    ) in message
    assert "'" not in message and " or " not in message
    assert not Consumption.objects.exists()


def test_a_missing_field_and_an_empty_body(pos: Pos, vip: Customer) -> None:
    missing = pos.post("/consumptions", {"card_no": vip.card_no, "order_no": "P-1", "category": "dining"})
    assert missing.status_code == 422 and "amount 必须填写" in missing.json()["message"]
    empty = pos.post("/consumptions", None, raw=b"")
    assert empty.status_code == 422 and empty.json()["code"] == "invalid"
    assert not Consumption.objects.exists()


@pytest.mark.parametrize("key", [None, "", "k" * 129])
def test_a_missing_or_bad_idempotency_key_has_its_own_code(pos: Pos, vip: Customer, key: str | None) -> None:
    headers = {**pos.auth, **({} if key is None else {"HTTP_IDEMPOTENCY_KEY": key})}
    body = json.dumps(sale(vip.card_no))
    response = pos.http.post(f"{BASE}/consumptions", body, content_type="application/json", **headers)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "invalid_idempotency_key"
    assert not Consumption.objects.exists()


def test_unknown_paths_and_methods_answer_json(pos: Pos, vip: Customer) -> None:
    nowhere = pos.get("/nope")
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "not_found"
    assert "/api/v1/nope" in nowhere.json()["message"]
    wrong = pos.http.delete(f"{BASE}/members/{vip.card_no}", **pos.auth)
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert "DELETE" in wrong.json()["message"] and "GET" in wrong["Allow"]
    # the pages outside the API keep their own error pages
    assert not Client().get("/CRM/nope/").get("Content-Type", "").startswith("application/json")


def test_a_future_time_is_refused_by_the_service(pos: Pos, vip: Customer) -> None:
    response = pos.post("/consumptions", sale(vip.card_no, occurred_at="2999-01-01T00:00:00+08:00"))
    assert response.status_code == 422 and "晚于现在" in response.json()["message"]
    assert not Consumption.objects.exists()


def test_malformed_json_and_a_missing_key(pos: Pos, vip: Customer) -> None:
    broken = pos.post("/consumptions", None, raw=b"{not json")
    assert broken.status_code == 422 and broken.json()["code"] == "invalid"
    keyless = pos.post("/consumptions", sale(vip.card_no), key=False)
    assert keyless.status_code == 422 and "Idempotency-Key" in keyless.json()["message"]
    assert not Consumption.objects.exists()


def test_keys_and_operations(pos: Pos, vip: Customer) -> None:
    wrong = Pos("jsh_000000000000_wrong")
    response = wrong.get(f"/members/{vip.card_no}")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"
    assert Client().get(f"{BASE}/members/{vip.card_no}").status_code == 401
    _c, key = api_client_create(actor=None, name="只读终端", operations=["member.read"])
    reader = Pos(key)
    assert reader.get(f"/members/{vip.card_no}").status_code == 200
    refused = reader.post("/consumptions", sale(vip.card_no))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    ApiClient.objects.filter(name="只读终端").update(is_active=False)
    disabled = reader.get(f"/members/{vip.card_no}")
    assert disabled.status_code == 403 and disabled.json()["code"] == "client_disabled"
    assert not Consumption.objects.exists()


def test_the_openapi_document_is_served(pos: Pos) -> None:
    document = Client().get(f"{BASE}/openapi.json").json()
    assert {"/api/v1/consumptions", "/api/v1/redemptions", "/api/v1/members/lookup"} <= set(document["paths"])
    assert Client().get(f"{BASE}/docs").status_code == 200


def test_the_documented_codes_are_the_models_codes() -> None:
    from typing import get_args

    from crm.loyalty.api import CategoryCode, PaymentCode
    from crm.loyalty.models import Category, PaymentMethod

    assert list(get_args(CategoryCode)) == list(Category.values)
    assert list(get_args(PaymentCode)) == list(PaymentMethod.values)
