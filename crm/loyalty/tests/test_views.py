"""The loyalty pages: 会员管理 › 消费记录 / 积分流水 (scope, search, sorting, export, source links), one consumption,
and the customer's 消费记录 and 积分 tabs (scope, paging, query counts)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from crm.core.models import AuditAction, AuditLog
from crm.customers.models import Customer, CustomerStatus
from crm.customers.tabs import profile_tabs
from crm.loyalty import services, views
from crm.loyalty.models import Consumption, PointsEntry

from .conftest import D, make_member

pytestmark = pytest.mark.django_db

CONSUMPTIONS = "loyalty:consumption_list"
ENTRIES = "loyalty:entry_list"


@pytest.fixture
def zhang_member(people: dict[str, Any]) -> Customer:
    return make_member(people["张伟"], name="孙总", mobile="13912345678", card_no="JSH2024000101")


@pytest.fixture
def liu_member(people: dict[str, Any]) -> Customer:
    return make_member(people["刘洋"], name="周总", mobile="13787654321", card_no="JSH2024000202")


@pytest.fixture
def history(
    zhang_member: Customer, liu_member: Customer, buy: Callable[..., Consumption], people: dict[str, Any]
) -> dict:
    """孙总 (张伟's): a dinner, a room partly refunded, a gift from an application, a POS redemption;
    周总 (刘洋's): a spa visit."""
    now = timezone.now()
    dinner = buy(zhang_member, "1000.00", occurred_at=now - timedelta(days=3), order_no="A-001", venue="中餐厅")
    room = buy(
        zhang_member, "2000.00", category="room", occurred_at=now - timedelta(days=2), order_no="A-002", payment="card"
    )
    refund = services.consumption_refund(
        original=room, amount="500.00", source="manual", order_no="R-002", operator=people["张伟"], note="房间漏水"
    )
    gift = services.points_gift(customer=zhang_member, points=300, reason="生日礼遇", source_ref="application:7")
    redeem = services.points_redeem(customer=zhang_member, points=100, reason="兑换红酒", source_ref="pos:P-9")
    spa = buy(liu_member, "800.00", category="spa", order_no="B-001", operator=people["刘洋"])
    return {"dinner": dinner, "room": room, "refund": refund, "gift": gift, "redeem": redeem, "spa": spa}


def _rows(r: Any) -> list[Any]:
    assert r.status_code == 200, r.content.decode()[:500]
    return [row["obj"] for row in r.context["rows"]]


# ---------------------------------------------------------------------------------------------------
# The lists
# ---------------------------------------------------------------------------------------------------


def test_menu_shows_the_lists_to_those_who_may_read_them(client_for: Any) -> None:
    html = client_for("张伟").get(reverse("core:home")).content.decode()
    assert "会员管理" in html
    assert reverse(CONSUMPTIONS) in html and reverse(ENTRIES) in html
    html = client_for("陈静").get(reverse("core:home")).content.decode()  # customer service: no loyalty
    assert reverse(CONSUMPTIONS) not in html


def test_a_rep_sees_his_own_customers_rows_only(history: dict, client_for: Any) -> None:
    zhang, liu, li = client_for("张伟"), client_for("刘洋"), client_for("李明")
    assert set(_rows(zhang.get(reverse(CONSUMPTIONS)))) == {history["dinner"], history["room"], history["refund"]}
    assert set(_rows(liu.get(reverse(CONSUMPTIONS)))) == {history["spa"]}
    assert len(_rows(li.get(reverse(CONSUMPTIONS)))) == 4  # the manager of both
    entries = _rows(zhang.get(reverse(ENTRIES)))
    assert {e.account.customer.name for e in entries} == {"孙总"}
    assert len(entries) == 5  # earn, earn, reversal, gift, redeem
    assert {e.account.customer.name for e in _rows(liu.get(reverse(ENTRIES)))} == {"周总"}


def test_default_order_is_newest_first_and_columns_sort(history: dict, client_for: Any) -> None:
    li = client_for("李明")
    rows = _rows(li.get(reverse(CONSUMPTIONS)))
    assert rows == sorted(rows, key=lambda c: (c.occurred_at, c.pk), reverse=True)
    rows = _rows(li.get(reverse(CONSUMPTIONS), {"sort": "amount"}))
    assert [c.amount for c in rows] == [D("-500.00"), D("800.00"), D("1000.00"), D("2000.00")]
    rows = _rows(li.get(reverse(ENTRIES), {"sort": "-points"}))
    assert [e.points for e in rows] == sorted((e.points for e in rows), reverse=True)


def test_keyset_pages_walk_every_row_once(
    zhang_member: Customer, buy: Callable[..., Consumption], client_for: Any
) -> None:
    start = timezone.now() - timedelta(days=30)
    for i in range(45):
        buy(zhang_member, "10.00", occurred_at=start + timedelta(minutes=i % 7))  # equal times: the id decides
    c = client_for("张伟")
    seen: list[int] = []
    params: dict[str, str] = {"_uid": "k"}
    while True:
        r = c.get(reverse(CONSUMPTIONS), params)
        seen += [o.pk for o in _rows(r)]
        cursor = r.context["page"].next_cursor
        if not cursor:
            break
        params["after"] = cursor
    assert sorted(seen) == sorted(Consumption.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 45


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "孙总"}, {"dinner", "room", "refund"}),
        ({"q": "sz"}, {"dinner", "room", "refund"}),
        ({"q": "周"}, {"spa"}),
        ({"mobile": "5432"}, {"spa"}),
        ({"mobile": "１２３４"}, {"dinner", "room", "refund"}),  # full-width digits as typed
        ({"card_no": "jsh2024000202"}, {"spa"}),
        ({"category": "room"}, {"room", "refund"}),
        ({"kind": "refund"}, {"refund"}),
        ({"kind": "sale", "category": "room"}, {"room"}),
        ({"source": "manual"}, {"dinner", "room", "refund", "spa"}),
        ({"source": "api"}, set()),
        ({"amount_min": "900", "amount_max": "1500"}, {"dinner"}),
        ({"amount_max": "0"}, {"refund"}),
        ({"order_no": "A-00"}, {"dinner", "room"}),
        ({"date_from": "2000-01-01", "date_to": "2000-01-02"}, set()),
    ],
)
def test_consumption_search(history: dict, client_for: Any, params: dict, expected: set) -> None:
    rows = _rows(client_for("李明").get(reverse(CONSUMPTIONS), params))
    assert {k for k, v in history.items() if v in rows} == expected


def test_consumption_search_by_owner_and_date(history: dict, client_for: Any, people: dict[str, Any]) -> None:
    li = client_for("李明")
    assert set(_rows(li.get(reverse(CONSUMPTIONS), {"owner": people["刘洋"].pk}))) == {history["spa"]}
    today = timezone.localdate()
    day = timezone.localtime(history["dinner"].occurred_at).date()
    rows = _rows(li.get(reverse(CONSUMPTIONS), {"date_from": day.isoformat(), "date_to": day.isoformat()}))
    assert rows == [history["dinner"]]
    rows = _rows(li.get(reverse(CONSUMPTIONS), {"date_from": today.isoformat()}))
    assert set(rows) == {history["refund"], history["spa"]}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mobile": "12"}, "至少 4 位数字"),
        ({"amount_min": "10", "amount_max": "5"}, "上限不能小于下限"),
        ({"amount_min": "abc"}, "数"),
        ({"amount_min": "1e400"}, "数"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "结束日期不能早于开始日期"),
        ({"date_from": "2026-02-30"}, "日期"),
        ({"category": "caviar"}, "选择"),
        ({"owner": "99999999999999999999"}, "选择"),
    ],
)
def test_consumption_search_refuses_bad_input_in_a_sentence(
    history: dict, client_for: Any, params: dict, message: str
) -> None:
    r = client_for("李明").get(reverse(CONSUMPTIONS), params)
    assert r.status_code == 200
    assert message in r.content.decode()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "earn"}, {"earn"}),
        ({"kind": "reversal"}, {"reversal"}),
        ({"source": "consumption"}, {"earn", "reversal"}),
        ({"source": "application"}, {"gift"}),
        ({"source": "pos"}, {"redeem"}),
        ({"source": "other"}, set()),
        ({"points_max": "-1"}, {"reversal", "redeem"}),
        ({"points_min": "300", "points_max": "300"}, {"gift"}),
        ({"q": "孙总", "kind": "gift"}, {"gift"}),
        ({"mobile": "5432"}, {"earn"}),  # 周总's spa visit
    ],
)
def test_ledger_search(history: dict, client_for: Any, params: dict, expected: set) -> None:
    rows = _rows(client_for("李明").get(reverse(ENTRIES), params))
    assert {e.kind for e in rows} == expected


def test_ledger_search_refuses_bad_input(history: dict, client_for: Any) -> None:
    for params in ({"points_min": "5", "points_max": "1"}, {"points_min": "9" * 30}, {"kind": "steal"}):
        r = client_for("李明").get(reverse(ENTRIES), params)
        assert r.status_code == 200
        assert 'class="invalid-feedback' in r.content.decode()


def test_source_and_customer_links(history: dict, client_for: Any) -> None:
    html = client_for("张伟").get(reverse(ENTRIES)).content.decode()
    customer_points = views.customer_url(history["dinner"].customer_id, "points")
    assert f'href="{customer_points.replace("&", "&amp;")}"' in html
    assert f'href="{reverse("loyalty:consumption_detail", args=[history["dinner"].pk])}"' in html  # earn
    assert f'href="{reverse("loyalty:consumption_detail", args=[history["refund"].pk])}"' in html  # reversal
    assert f'href="{reverse("workflow:detail", args=[7])}"' in html  # the gift's application
    assert "收银系统 P-9" in html
    html = client_for("张伟").get(reverse(CONSUMPTIONS)).content.decode()
    assert f'href="{views.customer_url(history["dinner"].customer_id, "consumption")}"' in html
    assert "退款 R-002" not in html or "消费 A-002" in html  # a refund names its sale
    assert f'href="{reverse("loyalty:consumption_detail", args=[history["room"].pk])}"' in html


def test_export_is_scoped_masked_and_logged(history: dict, client_for: Any, people: dict[str, Any]) -> None:
    li = client_for("李明")
    r = li.get(reverse(CONSUMPTIONS), {"export": "xlsx", "category": "room"})
    assert r.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0).to_python()
    head, *rows = sheet
    assert len(rows) == 2
    col = {name: i for i, name in enumerate(head)}
    assert {row[col["手机号"]] for row in rows} == {"139****5678"}  # a manager does not see whole mobiles
    assert sorted(row[col["金额(元)"]] for row in rows) == [-500.0, 2000.0]  # numbers Excel can sum
    assert {row[col["客户"]] for row in rows} == {"孙总"}  # the text, not a link
    log = AuditLog.objects.filter(action=AuditAction.EXPORT, actor=people["李明"]).latest("at")
    assert log.changes["rows"] == 2 and log.changes["filter"] == {"消费类别": "客房"}
    r = li.get(reverse(ENTRIES), {"export": "xlsx"})
    assert r.status_code == 200
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0).to_python()
    assert len(sheet) - 1 == PointsEntry.objects.count()
    assert "<a" not in str(sheet)


def test_export_needs_its_permission(history: dict, client_for: Any) -> None:
    zhang = client_for("张伟")  # a rep reads the lists but may not export them
    r = zhang.get(reverse(CONSUMPTIONS))
    assert r.status_code == 200 and not r.context["can_export"]
    r = zhang.get(reverse(CONSUMPTIONS), {"export": "xlsx"})
    assert r.status_code == 403
    assert "您没有导出「消费记录」的权限。" in r.content.decode()
    assert zhang.get(reverse(ENTRIES), {"export": "xlsx"}).status_code == 403


def test_a_list_without_its_permission_is_refused(client_for: Any) -> None:
    r = client_for("陈静").get(reverse(CONSUMPTIONS))
    assert r.status_code == 403
    assert "您没有使用「消费记录」的权限。" in r.content.decode()


@pytest.mark.parametrize("url_name", [CONSUMPTIONS, ENTRIES])
def test_list_queries_do_not_grow_with_rows(
    url_name: str, zhang_member: Customer, buy: Callable[..., Consumption], client_for: Any, people: dict[str, Any]
) -> None:
    """No query per row: a page of a few rows costs what a full page does (customers, refunds' sales, sources
    and operators are joined)."""
    c = client_for("张伟")
    c.get(reverse(url_name), {"_uid": "t"})  # the session's user and permissions
    counts = []
    for n in (3, 20):
        while Consumption.objects.count() < n:
            k = Consumption.objects.count()
            customer = (
                zhang_member if k % 2 else make_member(people["张伟"], name=f"会员{k}", card_no=f"JSH2025{k:06d}")
            )
            sale = buy(customer, "100.00", order_no=f"Q-{k}")
            if k % 3 == 0:
                services.consumption_refund(original=sale, amount="10", source="manual", operator=people["张伟"])
        with CaptureQueriesContext(connection) as ctx:
            r = c.get(reverse(url_name), {"_uid": "t"})
        assert r.status_code == 200 and len(r.context["rows"]) >= n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


# ---------------------------------------------------------------------------------------------------
# One consumption
# ---------------------------------------------------------------------------------------------------


def test_consumption_detail_shows_its_refunds_and_points(history: dict, client_for: Any) -> None:
    zhang = client_for("张伟")
    r = zhang.get(reverse("loyalty:consumption_detail", args=[history["room"].pk]))
    assert r.status_code == 200
    html = r.content.decode()
    assert "R-002" in html and "-500.00" in html and "+2,000" in html and "-500" in html
    r = zhang.get(reverse("loyalty:consumption_detail", args=[history["refund"].pk]))  # a refund shows its sale
    assert r.status_code == 200 and "A-002" in r.content.decode()


def test_consumption_detail_out_of_scope_is_404(history: dict, client_for: Any) -> None:
    assert client_for("刘洋").get(reverse("loyalty:consumption_detail", args=[history["room"].pk])).status_code == 404
    assert client_for("李明").get(reverse("loyalty:consumption_detail", args=[history["room"].pk])).status_code == 200


# ---------------------------------------------------------------------------------------------------
# The customer's tabs
# ---------------------------------------------------------------------------------------------------


def _detail(client: Any, customer: Customer, **params: str) -> Any:
    return client.get(reverse("customers:customer_detail", args=[customer.pk]), params)


def _tab(client: Any, customer: Customer, key: str, **params: str) -> Any:
    return client.get(reverse("customers:customer_tab", args=[customer.pk, key]), params)


def test_the_customer_page_has_the_two_tabs(history: dict, zhang_member: Customer, client_for: Any) -> None:
    r = _detail(client_for("张伟"), zhang_member)
    assert r.status_code == 200
    tabs = [label for _key, label in r.context["tabs"]]
    assert tabs.index("消费记录") < tabs.index("积分") < tabs.index("跟踪记录")
    html = r.content.decode()
    # drawn when first shown, not with the page
    assert reverse("customers:customer_tab", args=[zhang_member.pk, "points"]) in html
    assert 'data-testid="points-balance"' not in html


def test_the_points_tab(history: dict, zhang_member: Customer, client_for: Any) -> None:
    r = _detail(client_for("张伟"), zhang_member, tab="points")  # opened at the tab: drawn at once
    assert r.context["active_tab"] == "points"
    html = r.content.decode()
    # 1000 + 2000 earned at 普卡 ×1, 500 taken back, 300 given, 100 redeemed
    assert 'data-testid="points-balance">2,700<' in html
    assert 'data-testid="points-level">普卡<' in html
    assert 'data-testid="expiring-30">0<' in html
    assert "共 5 条" in html
    for text in ("消费积分", "退款扣回", "积分赠送", "积分兑换", "生日礼遇", "收银系统 P-9", "申请单 #7"):
        assert text in html


def test_the_points_tab_shows_expiring_points_and_level_history(
    zhang_member: Customer, buy: Callable[..., Consumption], client_for: Any
) -> None:
    from crm.loyalty.selectors import loyalty_settings

    rules = loyalty_settings()
    rules.expiry_months = 1
    rules.save()
    buy(zhang_member, "60000.00", occurred_at=timezone.now() - timedelta(days=10))  # 普卡 → 银卡
    html = _tab(client_for("张伟"), zhang_member, "points").content.decode()
    assert 'data-testid="expiring-30">60,000<' in html
    assert 'data-testid="expiring-90">60,000<' in html
    assert 'data-testid="points-level">银卡<' in html
    assert "消费升级" in html


def test_the_points_tab_says_how_far_the_next_level_is(
    zhang_member: Customer, buy: Callable[..., Consumption], client_for: Any
) -> None:
    from django.contrib.auth.models import Permission

    from crm.accounts.models import Role
    from crm.loyalty.models import MemberLevel

    def progress(who: str = "张伟") -> str:
        html = _tab(client_for(who), zhang_member, "points").content.decode()
        start = html.find('data-testid="level-progress">')
        return "" if start < 0 else html[start:].split(">", 1)[1].split("</p>", 1)[0]

    buy(zhang_member, "30000.00")
    assert progress() == "近 12 个月净消费 30,000.00 元;距「银卡」(50,000.00 元)还差 <strong>20,000.00</strong> 元。"
    MemberLevel.objects.filter(name="银卡").update(threshold=Decimal("20000.00"))  # the rules changed since
    assert progress() == "近 12 个月净消费 30,000.00 元;已达到「银卡」的门槛,下一笔消费时升级。"
    buy(zhang_member, "1000000.00")
    assert progress() == "近 12 个月净消费 1,030,000.00 元;已是最高等级「钻石卡」。"
    # shown to whom may see the levels (查看会员等级)
    Role.objects.get(name="业务员").permissions.remove(Permission.objects.get(codename="view_memberlevel"))
    assert progress() == ""


def test_the_consumption_tab_shows_refunds_against_their_sale(
    history: dict, zhang_member: Customer, client_for: Any
) -> None:
    html = _tab(client_for("张伟"), zhang_member, "consumption").content.decode()
    room, refund = html.index("A-002"), html.index("R-002")
    dinner = html.index("A-001")
    assert room < refund < dinner  # newest sale first, its refund right under it
    assert ":</span>房间漏水" in html  # its note, said to be one (it spans the sale's 消费类别 and 场所)
    assert 'data-testid="net-consumption">2,500.00<' in html
    assert "累计 2 笔消费" in html


def test_tabs_out_of_scope_are_404(history: dict, zhang_member: Customer, client_for: Any) -> None:
    liu = client_for("刘洋")
    assert _detail(liu, zhang_member, tab="points").status_code == 404
    for key in ("points", "consumption"):
        assert _tab(liu, zhang_member, key).status_code == 404
        assert _tab(client_for("李明"), zhang_member, key).status_code == 200
    assert _tab(client_for("张伟"), zhang_member, "nothing").status_code == 404


def test_tabs_need_their_permission(history: dict, zhang_member: Customer, client_for: Any) -> None:
    from django.contrib.auth.models import Permission

    from crm.accounts.models import Role

    role = Role.objects.get(name="业务员")
    role.permissions.remove(*Permission.objects.filter(codename__in=["view_pointsentry", "view_consumption"]))
    zhang = client_for("张伟")
    r = _detail(zhang, zhang_member, tab="points")
    assert r.status_code == 200 and r.context["active_tab"] == "basic"
    assert "积分" not in [label for _key, label in r.context["tabs"]]
    r = _tab(zhang, zhang_member, "points")
    assert r.status_code == 403 and "您没有查看「积分」的权限。" in r.content.decode()


def test_a_customer_without_points(zhang_member: Customer, client_for: Any) -> None:
    html = _tab(client_for("张伟"), zhang_member, "points").content.decode()
    assert 'data-testid="points-balance">0<' in html and "还没有积分记录" in html
    html = _tab(client_for("张伟"), zhang_member, "consumption").content.decode()
    assert "还没有消费记录" in html


def _many_entries(customer: Customer, n: int) -> None:
    services.points_gift(customer=customer, points=n * 10, reason="开卡礼遇")
    for i in range(n - 1):
        services.points_redeem(customer=customer, points=1, reason=f"兑换{i}")


def test_the_ledger_pages_with_a_more_button(zhang_member: Customer, client_for: Any) -> None:
    _many_entries(zhang_member, 120)
    zhang = client_for("张伟")
    r = _tab(zhang, zhang_member, "points")
    html = r.content.decode()
    assert "共 120 条" in html
    assert html.count("<tr><td>") == 50  # one page of entries
    expected = list(PointsEntry.objects.order_by("-created_at", "-id").values_list("reason", flat=True))
    seen = [reason for reason in expected[:50] if f"<td>{reason}</td>" in html]
    assert seen == expected[:50]
    pages = 1
    while "更多" in html:
        cursor = html.split("?after=", 1)[1].split('"', 1)[0]
        from urllib.parse import unquote

        r = _tab(zhang, zhang_member, "points", after=unquote(cursor))
        html = r.content.decode()
        assert "积分余额" not in html  # the rows alone
        seen += [reason for reason in expected if f"<td>{reason}</td>" in html]
        pages += 1
    assert pages == 3
    assert seen == expected


def test_the_points_tab_queries_do_not_grow_with_entries(
    zhang_member: Customer, buy: Callable[..., Consumption], people: dict[str, Any]
) -> None:
    """One page of the ledger costs the same few queries whatever it holds: no query per row (every relation a
    row shows is joined), no count over every entry."""
    request = RequestFactory().get("/")
    request.user = people["张伟"]
    assert request.user.has_perm("loyalty.view_memberlevel")  # his permissions read (once per request) beforehand

    def cost() -> int:
        with CaptureQueriesContext(connection) as ctx:
            views.points_tab(request, zhang_member)
        return len(ctx.captured_queries)

    sale = buy(zhang_member, "100000.00", order_no="S-1", occurred_at=timezone.now() - timedelta(days=1))
    services.consumption_refund(original=sale, amount="10.00", source="manual", operator=people["张伟"])
    small = cost()
    for i in range(12):
        buy(zhang_member, "100.00", order_no=f"S-{i + 2}")
        services.points_gift(customer=zhang_member, points=5, reason="礼遇", source_ref=f"application:{i}")
        services.points_redeem(customer=zhang_member, points=3, operator=people["张伟"])
    # account, expiring, level history, one page of entries, capped count; the rules and the next level with the
    # rolling net consumption (距下一等级)
    assert small == cost() == 7


def test_the_consumption_tab_queries_do_not_grow_with_rows(
    zhang_member: Customer, buy: Callable[..., Consumption], people: dict[str, Any]
) -> None:
    request = RequestFactory().get("/")
    request.user = people["张伟"]

    def cost() -> int:
        with CaptureQueriesContext(connection) as ctx:
            views.consumption_tab(request, zhang_member)
        return len(ctx.captured_queries)

    buy(zhang_member, "100.00")
    small = cost()
    for i in range(10):
        sale = buy(zhang_member, "100.00", order_no=f"T-{i}")
        services.consumption_refund(original=sale, amount="10.00", source="manual", operator=people["张伟"])
    assert small == cost()


def test_the_tab_registry_refuses_clashes() -> None:
    with pytest.raises(ValueError):
        profile_tabs.register("points", "积分", None, lambda request, customer: "")
    with pytest.raises(ValueError):
        profile_tabs.register("followups", "跟踪", None, lambda request, customer: "")
    with pytest.raises(ValueError):
        profile_tabs.register("Bad Key", "x", None, lambda request, customer: "")


def test_a_registration_in_review_is_not_a_member_yet(people: dict[str, Any], client_for: Any) -> None:
    pending = make_member(people["张伟"], name="钱总", status=CustomerStatus.REGISTERING)
    html = _tab(client_for("张伟"), pending, "points").content.decode()
    assert "正式客户才是会员" in html


def test_what_came_through_the_pos_says_so_as_its_recorder(client_for: Any, people: dict[str, Any]) -> None:
    member = make_member(people["张伟"])
    services.consumption_record(customer=member, amount=100, category="dining", source="api", client_key="api:1")
    admin = client_for("管理员")

    def column(url_name: str, name: str) -> list[str]:
        context = admin.get(reverse(url_name)).context
        at = [c.name for c in context["columns"]].index(name)
        return [str(row["cells"][at]) for row in context["rows"]]

    assert column("loyalty:consumption_list", "operator") == ["收银系统"]
    assert column("loyalty:entry_list", "created_by") == ["收银系统"]
    # the same on the sale's own page and on the member's 积分 tab, for a POS redemption as well
    services.points_redeem(customer=member, points=10, source_ref="pos:R-1")
    sale = Consumption.objects.get()
    detail = admin.get(reverse("loyalty:consumption_detail", args=[sale.pk])).content.decode()
    assert "收银系统 ·" in detail
    ledger = _tab(admin, member, "points").content.decode().split('data-testid="ledger"')[1]
    assert ledger.count("<td>收银系统</td>") == 2


def test_the_member_searches_take_what_is_pasted_and_merged_cards(client_for: Any, people: dict[str, Any]) -> None:
    member = make_member(people["张伟"], name="王晓明", mobile="13800138011", card_no="JSH2026000001")
    gone = make_member(people["张伟"], name="王晓明", mobile="13800138011", card_no="JSH2026000003")
    services.consumption_record(customer=member, amount=100, category="dining", source="manual")
    Customer.objects.filter(pk=gone.pk).update(status=CustomerStatus.MERGED, merged_into=member)
    admin = client_for("管理员")
    url = reverse("loyalty:consumption_list")

    def found(**query: str) -> int:
        return len(admin.get(url, query).context["rows"])

    assert found(card_no="jsh2026000003") == 1  # the card merged away finds the member kept
    assert found(mobile="+86 138-0013-8011") == 1
    assert found(mobile="（138）0013 8011") == 1
    assert found(q="王晓明!") == 1
    r = admin.get(url, {"q": "!!!"})
    assert "请输入姓名中的字或拼音。" in r.content.decode()
