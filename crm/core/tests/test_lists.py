"""The generic list: keyset pages, sorting, capped counts, query counts, export, masking, mounting."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from crm.accounts.models import User
from crm.core.lists import KeysetPaginator, capped_count, decode_cursor, encode_cursor
from crm.core.models import AuditAction, AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(people: dict[str, User]) -> list[AuditLog]:
    """95 rows; several share a timestamp so that the pk tiebreak matters."""
    base = timezone.now() - timedelta(days=10)
    admin = people["管理员"]
    rows = [
        AuditLog(
            actor=admin,
            actor_name="管理员",
            action=AuditAction.UPDATE,
            at=base + timedelta(minutes=i // 3),
            object_repr=f"对象{i}",
        )
        for i in range(95)
    ]
    AuditLog.objects.all().delete()
    return AuditLog.objects.bulk_create(rows)


def walk(paginator: KeysetPaginator) -> list[int]:
    seen: list[int] = []
    page = paginator.page()
    seen += [r.pk for r in page.rows]
    while page.next_cursor:
        page = paginator.page(after=page.next_cursor)
        seen += [r.pk for r in page.rows]
    return seen


@pytest.mark.parametrize("keys_first", [False, True])
@pytest.mark.parametrize("descending", [True, False])
def test_keyset_walk_visits_every_row_once_in_order(
    entries: list[AuditLog], descending: bool, keys_first: bool
) -> None:
    qs = AuditLog.objects.all()
    paginator = KeysetPaginator(qs, "at", descending, page_size=10, keys_first=keys_first)
    order = ["-at", "-id"] if descending else ["at", "id"]
    assert walk(paginator) == list(qs.order_by(*order).values_list("id", flat=True))


@pytest.mark.parametrize("keys_first", [False, True])
def test_keyset_backwards_and_last(entries: list[AuditLog], keys_first: bool) -> None:
    paginator = KeysetPaginator(AuditLog.objects.all(), "at", True, page_size=10, keys_first=keys_first)
    p1 = paginator.page()
    p2 = paginator.page(after=p1.next_cursor)
    back = paginator.page(before=p2.prev_cursor)
    assert [r.pk for r in back.rows] == [r.pk for r in p1.rows]
    assert back.is_first
    last = paginator.page(last=True)
    ordered = list(AuditLog.objects.order_by("-at", "-id").values_list("id", flat=True))
    assert [r.pk for r in last.rows] == ordered[-10:]
    assert last.is_last and last.prev_cursor
    before_last = paginator.page(before=last.prev_cursor)
    assert [r.pk for r in before_last.rows] == ordered[-20:-10]


def test_with_the_total_known_the_last_page_meets_the_pages_from_the_first(entries: list[AuditLog]) -> None:
    ordered = list(AuditLog.objects.order_by("-at", "-id").values_list("id", flat=True))
    total = len(ordered)
    assert total % 10, "the fixture should not fill whole pages"
    paginator = KeysetPaginator(AuditLog.objects.all(), "at", True, page_size=10)
    forward = walk(paginator)
    pages = [forward[i : i + 10] for i in range(0, total, 10)]
    last = paginator.page(last=True, total=total)
    assert [r.pk for r in last.rows] == pages[-1]  # what is left after whole pages, not the last ten
    back = paginator.page(before=last.prev_cursor)
    assert [r.pk for r in back.rows] == pages[-2]  # no row on two pages


def test_keys_first_reads_the_page_by_its_keys(entries: list[AuditLog]) -> None:
    """Two queries: the page's keys (nothing but the sort key and the key), then those rows."""
    paginator = KeysetPaginator(AuditLog.objects.select_related("actor"), "at", True, page_size=10, keys_first=True)
    with CaptureQueriesContext(connection) as ctx:
        page = paginator.page()
    keys, rows = (q["sql"] for q in ctx.captured_queries)
    assert "object_repr" not in keys and "LIMIT 11" in keys
    assert "object_repr" in rows and "accounts_user" in rows
    assert [r.pk for r in page.rows] == list(AuditLog.objects.order_by("-at", "-id").values_list("id", flat=True)[:10])
    assert KeysetPaginator(AuditLog.objects.none(), "at", True, keys_first=True).page().rows == []


def test_garbage_cursor_starts_from_the_first_page(entries: list[AuditLog]) -> None:
    paginator = KeysetPaginator(AuditLog.objects.all(), "at", True, page_size=10)
    first = [r.pk for r in paginator.page().rows]
    for cursor in ("!!!", "e30", encode_cursor(["not a date", 1]), encode_cursor([1])):
        assert [r.pk for r in paginator.page(after=cursor).rows] == first
    assert decode_cursor("%%%", []) is None


def test_a_column_may_link_its_cell_and_exports_the_text() -> None:
    from decimal import Decimal

    from django.utils.html import format_html

    from crm.core.export import write_xlsx
    from crm.core.lists import Column

    name = Column("name", "名称", accessor=lambda o: "张<伟>", href=lambda o: "/x/1/")
    cell = name.cell(object(), unmasked=True)
    assert str(cell) == "张<伟>" and cell.href == "/x/1/"
    assert cell.__html__() == "张&lt;伟&gt;"  # escaped on screen
    badge = Column("b", "b", accessor=lambda o: format_html("<b>{}</b>", "x")).cell(object(), unmasked=True)
    assert badge.__html__() == "<b>x</b>" and badge.href is None  # a column's own markup stays
    assert Column("e", "e", accessor=lambda o: None, href=lambda o: "/y/").cell(object(), unmasked=True).href is None
    amount = Column("amount", "金额", accessor=lambda o: Decimal("12.50"))
    data, n = write_xlsx("t", [name, amount], [object()], unmasked=True)
    assert n == 1
    assert CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()[1] == ["张<伟>", 12.5]


def test_a_cell_drawn_as_html_exports_its_words() -> None:
    from django.utils.html import format_html

    from crm.core.export import write_xlsx
    from crm.core.lists import Column

    due = Column(
        "due", "下次跟踪", accessor=lambda o: format_html('<span class="badge">{}</span> {}', "已逾期", "2026-11-20")
    )
    plain = Column("note", "备注", accessor=lambda o: "<b>原样</b>")  # text typed by a person stays as typed
    data, _n = write_xlsx("t", [due, plain], [object()], unmasked=True)
    row = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()[1]
    assert row == ["已逾期 2026-11-20", "<b>原样</b>"]


def test_capped_count(entries: list[AuditLog]) -> None:
    assert capped_count(AuditLog.objects.all(), cap=200) == (95, False)
    assert capped_count(AuditLog.objects.all(), cap=50) == (50, True)


def test_list_page_sorts_pages_and_filters(client_for, entries: list[AuditLog]) -> None:
    admin = client_for("管理员")
    url = reverse("core:audit_list")
    r = admin.get(url, {"sort": "at"})
    first = [row["obj"].pk for row in r.context["rows"]]
    assert first == list(AuditLog.objects.order_by("at", "id").values_list("id", flat=True)[:20])
    r2 = admin.get(url, {"sort": "at", "after": r.context["page"].next_cursor})
    ordered = list(AuditLog.objects.order_by("at", "id").values_list("id", flat=True))
    assert [row["obj"].pk for row in r2.context["rows"]] == ordered[20:40]
    r = admin.get(url, {"object_repr": "对象9"})
    assert {row["obj"].object_repr for row in r.context["rows"]} == {"对象9", *(f"对象9{i}" for i in range(5))}
    # an unknown sort column falls back to the default, never a 500
    assert admin.get(url, {"sort": "password"}).status_code == 200


def test_bad_filter_input_is_explained_not_a_500(client_for, entries: list[AuditLog]) -> None:
    admin = client_for("管理员")
    url = reverse("core:audit_list")
    r = admin.get(url, {"date_from": "2026-13-45", "actor": "abc", "action": "nope"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "有效" in body or "正确" in body
    r = admin.get(url, {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    assert "结束日期不能早于开始日期" in r.content.decode()


def test_a_bad_filter_value_leaves_the_valid_ones_applied(client_for, entries: list[AuditLog]) -> None:
    admin = client_for("管理员")
    url = reverse("core:audit_list")
    r = admin.get(url, {"date_from": "2026-13-45", "object_repr": "对象94"})
    body = r.content.decode()
    assert r.status_code == 200 and "对象94" in body and "对象93" not in body


def test_a_search_says_which_conditions_it_left_out_with_the_results(client_for, entries: list[AuditLog]) -> None:
    admin = client_for("管理员")
    query = {"_uid": "abc", "date_from": "2026-05-02", "date_to": "2026-05-01", "object_repr": "对象94"}
    r = admin.get(reverse("core:audit_list"), query, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results-abc")
    body = r.content.decode()
    assert body.lstrip().startswith('<div class="crm-results" id="results-abc"')  # 【查询】 swaps only these
    assert "以下查询条件有误,没有使用:结束日期:结束日期不能早于开始日期。" in body
    assert "对象94" in body and "对象93" not in body
    r = admin.get(reverse("core:audit_list"), {"_uid": "abc", "object_repr": "对象94"}, HTTP_HX_REQUEST="true")
    assert "查询条件有误" not in r.content.decode()


def test_partial_render_is_only_the_results(client_for, entries: list[AuditLog]) -> None:
    admin = client_for("管理员")
    r = admin.get(reverse("core:audit_list"), {"_uid": "abc"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results-abc")
    body = r.content.decode()
    assert body.lstrip().startswith('<div class="crm-results" id="results-abc"')
    assert "crm-menu" not in body and "<html" not in body
    r = admin.get(reverse("core:audit_list"), HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert 'class="crm-search"' in body and "<html" not in body


@pytest.mark.parametrize("n", [5, 60])
def test_query_count_does_not_grow_with_rows(client_for, people: dict[str, User], n: int) -> None:
    admin = client_for("管理员")
    AuditLog.objects.bulk_create(
        AuditLog(actor=people["李明"], actor_name="李明", action=AuditAction.LOGIN) for _ in range(n)
    )
    for name in ("core:audit_list", "accounts:user_list", "accounts:role_list", "core:dict_list"):
        admin.get(reverse(name))  # warm the per-request caches of the first hit (content types)
        with CaptureQueriesContext(connection) as ctx:
            r = admin.get(reverse(name), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results-x")
        assert r.status_code == 200
        # session + user + grant/permissions + page + count (+ one prefetch), whatever the number of rows
        assert len(ctx.captured_queries) <= 9, (name, [q["sql"] for q in ctx.captured_queries])


def test_query_count_exact_for_audit_list(client_for, entries: list[AuditLog]) -> None:
    admin = client_for("管理员")
    url = reverse("core:audit_list")
    admin.get(url)
    with CaptureQueriesContext(connection) as ctx:
        admin.get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results-x")
    # session, user, page (with content type joined), capped count
    assert len(ctx.captured_queries) == 4, [q["sql"] for q in ctx.captured_queries]


def _sheet(response) -> list[list[object]]:
    return CalamineWorkbook.from_filelike(io.BytesIO(response.content)).get_sheet_by_index(0).to_python()


def test_export_is_masked_per_role_and_logged(client_for, people: dict[str, User]) -> None:
    from django.contrib.auth.models import Permission

    from crm.accounts.models import Role

    User.objects.filter(username="刘洋").update(mobile="13912345678")
    director = client_for("王建国")  # may list people of his department, may not see full numbers
    r = director.get(reverse("accounts:user_list"), {"export": "xlsx", "q": "刘洋"})
    rows = _sheet(r)
    assert rows[0][0] == "姓名" and rows[1][0] == "刘洋"
    mobile_col = rows[0].index("手机号")
    assert rows[1][mobile_col] == "139****5678"
    page = director.get(reverse("accounts:user_list"), {"q": "刘洋"}).content.decode()
    assert "139****5678" in page and "13912345678" not in page
    entry = AuditLog.objects.filter(action=AuditAction.EXPORT).latest("id")
    assert entry.actor == people["王建国"] and entry.changes["rows"] == 1 and entry.changes["masked"] is True
    assert entry.changes["filter"] == {"姓名或登录名": "刘洋"}  # by the labels of the search area
    Role.objects.get(name="销售总监").permissions.add(Permission.objects.get(codename="view_sensitive"))
    director = client_for("王建国")
    rows = _sheet(director.get(reverse("accounts:user_list"), {"export": "xlsx", "q": "刘洋"}))
    assert rows[1][mobile_col] == "13912345678"  # text, never a number


def test_export_needs_its_permission(client_for) -> None:
    rep = client_for("张伟")
    assert rep.get(reverse("accounts:user_list"), {"export": "xlsx"}).status_code == 403  # nor the list
    r = rep.get(reverse("customers:customer_list"), {"export": "xlsx"})  # the list, not its export
    assert r.status_code == 403 and r["Content-Type"].startswith("text/plain")
    assert r.content.decode() == "您没有导出「客户跟踪」的权限。"


def test_a_condition_in_error_exports_nothing_and_says_why(client_for, people: dict[str, User]) -> None:
    from crm.customers.models import Customer

    owner = people["张伟"]
    for n in range(3):
        Customer.objects.create(
            name=f"客户{n}",
            mobile=f"1390000000{n}",
            owner=owner,
            department=owner.department,
            registered_by=owner,
            status="formal",
        )
    director = client_for("王建国")
    url = reverse("customers:customer_list")
    assert len(_sheet(director.get(url, {"export": "xlsx"}))) == 4
    before = AuditLog.objects.filter(action=AuditAction.EXPORT).count()
    r = director.get(url, {"export": "xlsx", "mobile": "138"})  # the list leaves it out and says so; export: no
    assert r.status_code == 422 and r["Content-Type"].startswith("text/plain")
    assert r.content.decode() == "查询条件有误,没有导出。手机号:请输入手机号中连续的至少 4 位数字。"
    assert AuditLog.objects.filter(action=AuditAction.EXPORT).count() == before


def test_home_and_menu_follow_permissions(client_for) -> None:
    body = client_for("张伟").get("/CRM/").content.decode()
    assert "密码修改" in body and "用户管理" not in body and "审计日志" not in body
    body = client_for("管理员").get("/CRM/").content.decode()
    for label in ("用户管理", "部门管理", "岗位管理", "角色管理", "数据字典", "审计日志", "密码修改"):
        assert label in body


def test_home_shortcuts_reach_the_pages_inside_menu_groups(client_for) -> None:
    shortcuts = [n.label for n in client_for("李明").get("/CRM/").context["shortcuts"]]
    assert {"潜在客户跟踪", "客户跟踪", "潜在客户审核", "客户资料审核"} <= {str(t) for t in shortcuts}
    assert "本周新增客户" not in {str(t) for t in shortcuts}  # the weekly lists stay under their page


def test_the_leads_weekly_lists_open_tabs_named_apart_from_the_customers(client_for) -> None:
    body = client_for("张伟").get("/CRM/").content.decode()
    assert body.count('data-tab-title="本周待跟踪客户(潜在客户)"') == 1  # the leads'
    assert body.count('data-tab-title="本周待跟踪客户"') == 1  # the customers'


def test_mounted_under_crm_and_root_redirects(client: Client, demo: object) -> None:
    r = client.get("/")
    assert r.status_code == 302 and r["Location"] == "/CRM/"
    assert client.get("/CRM/login/").status_code == 200
    assert reverse("core:home") == "/CRM/"


def test_mounted_at_root_behind_a_proxy_prefix(client: Client, demo: object, settings) -> None:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory
    from django.urls import clear_url_caches, set_script_prefix

    settings.ROOT_URLCONF = "config.urls_root"
    clear_url_caches()
    try:
        assert client.get("/login/").status_code == 200
        # A proxy mounting the app at /CRM passes SCRIPT_NAME; the WSGI handler makes links carry it.
        environ = RequestFactory().get("/", SCRIPT_NAME="/CRM").environ
        environ["PATH_INFO"] = "/"
        seen: dict[str, object] = {}
        WSGIHandler()(environ, lambda status, headers: seen.update(status=status, headers=dict(headers)))
        assert str(seen["status"]).startswith("302")
        assert seen["headers"]["Location"] == "/CRM/login/?next=/CRM/"
    finally:
        set_script_prefix("/")
        clear_url_caches()


def test_csp_header_and_no_external_assets(client_for) -> None:
    r = client_for("管理员").get("/CRM/")
    assert "default-src 'self'" in r["Content-Security-Policy"]
    body = r.content.decode()
    assert "http://" not in body.replace("http://www.w3.org", "") and "https://" not in body


def test_date_filter_uses_the_clubs_days(client_for, people: dict[str, User]) -> None:
    """A day is a day in Asia/Shanghai: 23:30 UTC on the 1st is already the 2nd at the club."""
    from datetime import UTC, datetime

    AuditLog.objects.all().delete()
    late = AuditLog.objects.create(
        actor=people["李明"], actor_name="李明", action=AuditAction.LOGIN, at=datetime(2026, 5, 1, 23, 30, tzinfo=UTC)
    )
    early = AuditLog.objects.create(
        actor=people["李明"], actor_name="李明", action=AuditAction.LOGIN, at=datetime(2026, 5, 1, 15, 30, tzinfo=UTC)
    )
    admin = client_for("管理员")
    url = reverse("core:audit_list")
    ids = lambda r: {row["obj"].pk for row in r.context["rows"] if row["obj"].action == AuditAction.LOGIN}  # noqa: E731
    assert ids(admin.get(url, {"date_from": "2026-05-02", "date_to": "2026-05-02"})) == {late.pk}
    assert ids(admin.get(url, {"date_from": "2026-05-01", "date_to": "2026-05-01"})) == {early.pk}


def test_fast_select_renders_like_django(demo: object) -> None:
    """The search area's <select> is built directly; it must say what Django's own rendering says."""
    import re as _re

    from django.template import Context, Template

    from crm.accounts.forms import UserFilterForm
    from crm.accounts.models import Department

    dept = Department.objects.get(name="销售二组")
    form = UserFilterForm({"department": str(dept.pk), "is_active": "0"})
    form.is_valid()
    ours = Template("{% load crm %}{{ form.department|widget }}{{ form.is_active|widget }}").render(
        Context({"form": form})
    )
    django = form["department"].as_widget(attrs={"class": "form-select form-select-sm"}) + form["is_active"].as_widget(
        attrs={"class": "form-select form-select-sm"}
    )

    def norm(html: str) -> str:
        return _re.sub(r"\s+", " ", html.replace(">\n", ">")).replace("> <", "><").strip()

    assert norm(ours) == norm(django)
    assert f'<option value="{dept.pk}" selected>销售二组</option>' in ours
    # a disabled field's select is disabled too, as Django's would be (flatatt puts the flag last)
    form.fields["department"].disabled = True
    ours = Template("{% load crm %}{{ form.department|widget }}").render(Context({"form": form}))
    django = form["department"].as_widget(attrs={"class": "form-select form-select-sm"})
    assert norm(ours) == norm(django.replace(" disabled", "").replace('">', '" disabled>', 1))


def test_english_interface(client: Client, demo: object) -> None:
    r = client.post("/CRM/i18n/setlang/", {"language": "en", "next": "/CRM/login/"})
    assert r.status_code == 302
    body = client.get("/CRM/login/").content.decode()
    assert "Log in" in body and 'lang="en"' in body
    client.post("/CRM/i18n/setlang/", {"language": "zh-hans", "next": "/CRM/login/"})
    assert "登录" in client.get("/CRM/login/").content.decode()


def test_chinese_by_default_whatever_the_browser_says(client: Client, demo: object) -> None:
    body = client.get("/CRM/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "登录" in body and "Log in" not in body
    client.cookies["django_language"] = "xx"
    assert "登录" in client.get("/CRM/login/").content.decode()


def test_home_panels_registry(rf, people: dict[str, User]) -> None:
    from crm.core.home import HomePanel, HomePanels

    panels = HomePanels()
    panels.register(HomePanel("b", "error.html", lambda u: {"title": "二", "message": ""}, order=2))
    panels.register(HomePanel("a", "error.html", lambda u: {"title": "一", "message": ""}, order=1))
    panels.register(HomePanel("n", "error.html", lambda u: None))
    panels.register(HomePanel("p", "error.html", lambda u: {"title": "三"}, permission="core.view_auditlog"))
    with pytest.raises(ValueError, match="twice"):
        panels.register(HomePanel("a", "error.html", lambda u: {}))
    request = rf.get("/")
    request.user = people["张伟"]
    html = panels.render(request)
    assert len(html) == 2 and "一" in html[0] and "二" in html[1]


def test_a_tab_whose_session_ended_takes_the_window_to_the_login_page(client) -> None:
    url = reverse("core:audit_list")
    r = client.get(url, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/CRM/system/audit/?q=1")
    assert r.status_code == 200 and r["HX-Redirect"] == "/CRM/login/?next=%2FCRM%2Fsystem%2Faudit%2F"
    page = client.get(r["HX-Redirect"]).content.decode()
    assert "您的登录已失效,请重新登录。" in page
    assert client.get(url).status_code == 302  # a whole page: the usual redirect


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side cursors are PostgreSQL's")
def test_search_selects_read_their_choices_with_one_query_each(client_for) -> None:
    """The selects of a search area (负责人, 客户来源, 客户级别) are read with one plain query each, not streamed
    through a server-side cursor (DECLARE, FETCH, CLOSE: three round trips apiece)."""
    director = client_for("王建国")
    url = reverse("customers:customer_list")
    director.get(url)
    with CaptureQueriesContext(connection) as ctx:
        r = director.get(url)
    assert r.status_code == 200 and 'name="owner"' in r.content.decode()
    statements = [q["sql"] for q in ctx.captured_queries]
    assert not [s for s in statements if s.lstrip().upper().startswith("DECLARE")], statements
