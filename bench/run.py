"""``make bench``: the audit-log list on 1,000,000 rows, against Django admin's changelist.

Self-contained: ``.venv/bin/python bench/run.py`` from anywhere. For each database (SQLite file under
var/bench/, PostgreSQL database ``crm_bench``) a worker subprocess (settings read DATABASE_URL at import)
migrates, loads the demo organisation, fills ``core_auditlog`` to 1,000,000 rows (once: later runs reuse
the data), then times the list pages through Django's test client. The parent prints the table and
rewrites its own section of docs/performance.md (between ``<!-- bench:audit:start -->`` and
``<!-- bench:audit:end -->``), leaving any other section alone.

Options: ``--db sqlite|postgresql`` (repeatable) to run one database only; ``--runs N``.
Environment: ``BENCH_PG_URL`` (default postgres://postgres@127.0.0.1:5432/crm_bench).

``make bench`` then runs the 〖待办业务〗 benchmark (``bench/todo.py``, its own section ``bench:todo``) and the
〖客户跟踪〗 benchmark (``bench/customers.py``, section ``bench:customers``: 1,000,000 customers, 10,000,000
follow-ups, loaded once in a few minutes) and the 【导入】 benchmark (``bench/imports.py``, section
``bench:imports``: 100,000 customers from an .xlsx, our import against django-import-export, in freshly
recreated databases) with the same options (``--runs`` there counts repetitions of the import, default 5);
Last, the POS API benchmark (``bench/pos.py``, section ``bench:pos``, PostgreSQL only): sustained consumption posts
from 8 client threads against gunicorn with 4 workers, and the 积分 tab of a member with 100,000 ledger entries.
``--bench audit``, ``--bench todo``, ``--bench customers``, ``--bench imports`` or ``--bench pos`` runs one only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DOC = ROOT / "docs" / "performance.md"
ROWS = 1_000_000
DEEP_POSITION = 900_000  # 0-based position, in the default order (-at, -id), of the deep page's first row
WARMUP = 3
RUNS = 15
SQL_RUNS = 5  # requests whose queries are captured (CaptureQueriesContext), after the timed ones
TARGET_MS = 50.0
SECTION = "audit"
BENCHMARKS = ["audit", "todo", "customers", "imports", "pos"]  # run in this order by ``make bench``; ``--bench NAME``
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/crm_bench")
DATABASES = {
    "sqlite": f"sqlite:///{VAR / 'audit.sqlite3'}",
    "postgresql": PG_URL,
}
DB_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

# (key, label, has an admin counterpart)
PAGES = [
    ("first", "首页(第 1 页)", True),
    ("deep", "深翻页(第 900,001 行起)", True),
    ("filter", "筛选:操作=导出 + 3 个月日期范围", True),
    ("htmx", "首页 htmx 局部刷新(仅结果区)", False),
]


# ================================================================================================
# Worker: one database, inside Django
# ================================================================================================


def prepare(db: str, username: str, label: str = "") -> Any:
    """Set Django up on the bench database, migrate it, load the demo organisation if absent, and return the
    demo person the benchmark logs in as (let past the change-the-initial-password page: bench data only)."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()

    from django.core.management import call_command

    log(db, f"{label}migrate…")
    call_command("migrate", interactive=False, verbosity=0)

    from crm.accounts.demo import load_demo
    from crm.accounts.models import User

    if not User.objects.filter(username=username).exists():
        log(db, f"{label}load_demo()…")
        load_demo()
    User.objects.filter(username=username).update(initial_password_set_at=None)
    return User.objects.get(username=username)


def worker(db: str, out: Path, runs: int) -> None:
    started = time.perf_counter()
    admin = prepare(db, "管理员")
    assert admin.is_superuser and admin.is_staff, "demo 管理员 must be a superuser"
    from django.db import connection

    fill(db)
    info = {"db_version": db_version(connection), "fill_seconds": round(time.perf_counter() - started, 1)}
    log(db, f"ready in {info['fill_seconds']} s; measuring ({WARMUP} warm-ups + {runs} runs per page)…")
    results = measure(db, admin, runs)
    out.write_text(json.dumps({"db": db, "info": info, "results": results}, ensure_ascii=False, indent=2))


def log(db: str, message: str) -> None:
    print(f"[{DB_LABELS.get(db, db)}] {message}", flush=True)


def db_version(connection: Any) -> str:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SHOW server_version")
        else:
            cur.execute("SELECT sqlite_version()")
        return str(cur.fetchone()[0])


# -- data ----------------------------------------------------------------------------------------

ACTIONS = [  # (action, weight): a club CRM's audit trail is mostly logins
    ("login", 44.0),
    ("logout", 14.0),
    ("update", 18.0),
    ("create", 10.0),
    ("export", 4.0),
    ("login_failed", 3.5),
    ("delete", 2.5),
    ("password_change", 2.0),
    ("password_reset", 1.0),
    ("unlock", 1.0),
]
USER_ACTIONS = {"login", "logout", "login_failed", "password_change", "password_reset", "unlock"}
EXPORT_TITLES = ["审计日志", "用户管理", "数据字典", "客户列表", "会员列表", "跟进记录"]
CHANGE_FIELDS = [
    ("department", ["销售一组", "销售二组", "客服部", "市场部"]),
    ("position", ["业务员", "销售经理", "客服专员", "市场专员"]),
    ("is_active", [True, False]),
    ("mobile", ["138****1234", "139****5678", "186****0021", "151****7788"]),
]


def fill(db: str) -> None:
    """Fill core_auditlog to ROWS rows with a realistic two years of audit trail (only what is missing)."""
    import random

    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from crm.accounts.models import User
    from crm.core.datagen import People
    from crm.core.models import AuditLog

    have = AuditLog.objects.count()
    missing = ROWS - have
    if missing <= 0:
        log(db, f"core_auditlog has {have:,} rows: reused")
        return
    log(db, f"core_auditlog has {have:,} rows: generating {missing:,}…")
    t0 = time.perf_counter()
    rng = random.Random(2016)
    people = People(2016)
    names = [people.name() for _ in range(5000)]
    user_ct = ContentType.objects.get_for_model(User).pk
    users = list(User.objects.order_by("pk").values_list("pk", "full_name"))
    # The administrator and the sales staff write most of the trail.
    weights = [6.0 if n in ("管理员", "张伟", "刘洋", "杨帆", "李明", "周丽") else 2.0 for _, n in users]
    home_ips = {pk: [f"10.0.{rng.randrange(1, 20)}.{rng.randrange(2, 250)}" for _ in range(3)] for pk, _ in users}
    changes = [json.dumps({f: [a, b]}, ensure_ascii=False) for f, vals in CHANGE_FIELDS for a in vals for b in vals]
    exports = [
        json.dumps({"filter": {"action": "login"}, "rows": r, "masked": m}, ensure_ascii=False)
        for r in (20, 315, 1200, 9876)
        for m in (True, False)
    ]

    # Timestamps over the last 730 days: working days and working hours weigh more; then sorted, so that
    # ids grow with time as they do in a real table.
    now = datetime.now(UTC).replace(microsecond=0)
    start = (now - timedelta(days=730)).timestamp()
    end = now.timestamp() - 3600
    shanghai = 8 * 3600
    day_weights = [0.35 if datetime.fromtimestamp(start + d * 86400, UTC).weekday() >= 5 else 1.0 for d in range(730)]
    hour_weights = [0.1] * 7 + [0.6, 2, 3, 3, 2.5, 1.5, 2.5, 3, 3, 2.5, 2, 1, 0.6, 0.4, 0.3, 0.2, 0.1]
    days = rng.choices(range(730), day_weights, k=missing)
    hours = rng.choices(range(24), hour_weights, k=missing)
    day0 = start - (start + shanghai) % 86400  # local (Asia/Shanghai) midnight
    stamps = sorted(
        min(end, day0 + d * 86400 + h * 3600 + rng.random() * 3600) for d, h in zip(days, hours, strict=True)
    )
    actions = rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS], k=missing)
    actors = rng.choices(users, weights, k=missing)

    def rows() -> Any:
        for ts, action, (uid, uname) in zip(stamps, actions, actors, strict=True):
            when = datetime.fromtimestamp(ts, UTC)
            ip = (
                rng.choice(home_ips[uid])
                if rng.random() < 0.9
                else f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            )
            if action in USER_ACTIONS:
                yield when, uid, uname, action, user_ct, str(uid), uname, "{}", ip
            elif action == "export":
                yield when, uid, uname, action, None, "", rng.choice(EXPORT_TITLES), rng.choice(exports), ip
            else:
                target = str(rng.randrange(1, 60000))
                change = rng.choice(changes) if action == "update" else "{}"
                yield when, uid, uname, action, user_ct, target, rng.choice(names), change, ip

    columns = "at, actor_id, actor_name, action, content_type_id, object_id, object_repr, changes, ip"
    connection.ensure_connection()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur, cur.cursor.copy(f"COPY core_auditlog ({columns}) FROM STDIN") as copy:
                for row in rows():
                    copy.write_row(row)
        else:
            sqlite = connection.connection
            sqlite.executemany(
                f"INSERT INTO core_auditlog ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                # Django stores SQLite datetimes as naive UTC text (str(datetime)).
                ((str(r[0].replace(tzinfo=None)), *r[1:]) for r in rows()),
            )
    log(db, f"inserted {missing:,} rows in {time.perf_counter() - t0:.0f} s; ANALYZE…")
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("VACUUM (ANALYZE) core_auditlog")  # the steady state autovacuum reaches
        else:
            cur.execute("ANALYZE")


# -- measurement ---------------------------------------------------------------------------------

PATTERNS = {  # a data row's id, on our list and on the admin changelist
    "ours": re.compile(r'<tr data-href="[^"]*/system/audit/(\d+)/"'),
    "admin": re.compile(r'<th class="field-at[^"]*"><a href="[^"]*/core/auditlog/(\d+)/change/'),
}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def measure(db: str, admin_user: Any, runs: int) -> dict[str, Any]:
    from django.contrib import admin as django_admin
    from django.db import connection
    from django.db.models import Max, Min
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from crm.core.lists import encode_cursor
    from crm.core.models import AuditLog

    client = Client()
    client.force_login(admin_user, backend="crm.accounts.backends.RoleBackend")

    ordered = AuditLog.objects.order_by("-at", "-id")
    total = AuditLog.objects.count()
    assert total >= ROWS, f"core_auditlog has {total} rows"
    top_id = ordered.values_list("id", flat=True)[0]
    # The deep page: the cursor of the row just before DEEP_POSITION, as the "next" button would carry it.
    cur_at, cur_id = ordered.values_list("at", "id")[DEEP_POSITION - 1]
    deep_id = ordered.values_list("id", flat=True)[DEEP_POSITION]
    # The filter: exports in three months from the middle of the data.
    span = AuditLog.objects.aggregate(lo=Min("at"), hi=Max("at"))
    mid = timezone.localtime(span["lo"] + (span["hi"] - span["lo"]) / 2).date().replace(day=1)
    date_from, date_to = mid, _add_months(mid, 3) - timedelta(days=1)
    tz = timezone.get_current_timezone()
    lo = datetime.combine(date_from, datetime.min.time(), tz)
    hi = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tz)
    matching = AuditLog.objects.filter(action="export", at__gte=lo, at__lt=hi)
    filter_count = matching.count()
    filter_id = matching.order_by("-at", "-id").values_list("id", flat=True)[0]

    ours = reverse("core:audit_list")
    changelist = reverse("admin:core_auditlog_changelist")
    per_page = django_admin.site.get_model_admin(AuditLog).list_per_page
    admin_page = DEEP_POSITION // per_page + 1  # 1-based: page admin_page starts at row DEEP_POSITION
    assert (admin_page - 1) * per_page == DEEP_POSITION
    cases = {
        "first": (
            {"url": ours, "expect": top_id},
            {"url": changelist, "expect": top_id},
        ),
        "deep": (
            {"url": f"{ours}?{urlencode({'after': encode_cursor([cur_at, cur_id])})}", "expect": deep_id},
            {"url": f"{changelist}?p={admin_page}", "expect": deep_id},
        ),
        "filter": (
            {
                "url": f"{ours}?{urlencode({'action': 'export', 'date_from': date_from, 'date_to': date_to})}",
                "expect": filter_id,
            },
            {
                "url": f"{changelist}?"
                + urlencode({"action__exact": "export", "at__gte": lo.isoformat(), "at__lt": hi.isoformat()}),
                "expect": filter_id,
            },
        ),
        "htmx": (
            {"url": ours, "expect": top_id, "headers": {"HX-Request": "true", "HX-Target": "results-bench"}},
            None,
        ),
    }

    def get(case: dict[str, Any]) -> tuple[float, Any]:
        t0 = time.perf_counter()
        response = client.get(case["url"], headers=case.get("headers"))
        return (time.perf_counter() - t0) * 1000, response

    def timed(sides: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Warm up, then time the sides in turn (alternating who goes first), so that both see the same load."""
        for _ in range(WARMUP):
            for side, case in sides.items():
                check(get(case)[1], case["expect"], PATTERNS[side], case["url"])
        times: dict[str, list[float]] = {side: [] for side in sides}
        order = list(sides)
        for i in range(runs):
            for side in order if i % 2 == 0 else order[::-1]:
                ms, response = get(sides[side])
                assert response.status_code == 200, (sides[side]["url"], response.status_code)
                times[side].append(ms)
        out = {}
        for side, case in sides.items():
            # The queries, counted and timed on a few more requests (the debug cursor is not in the timed runs).
            captures = []
            for _ in range(SQL_RUNS):
                with CaptureQueriesContext(connection) as ctx:
                    response = get(case)[1]
                captures.append([(float(q["time"]) * 1000, q["sql"]) for q in ctx.captured_queries])
            n_rows = check(response, case["expect"], PATTERNS[side], case["url"])
            sql = captures[-1]
            slowest = max(sql, default=(0.0, ""))
            out[side] = result = {
                "url": case["url"],
                "ms": round(statistics.median(times[side]), 1),
                "min_ms": round(min(times[side]), 1),
                "max_ms": round(max(times[side]), 1),
                "queries": len(sql),
                "sql_ms": round(statistics.median(sum(t for t, _ in c) for c in captures), 1),
                "slowest_sql_ms": round(statistics.median(max((t for t, _ in c), default=0.0) for c in captures), 1),
                "slowest_sql": slowest[1][:600],
                "rows": n_rows,
                "bytes": len(response.content),
            }
            log(
                db, f"{side:5} {case['url'][:88]:88} {result['ms']:8.1f} ms {result['queries']:2} queries {n_rows} rows"
            )
        return out

    results: dict[str, Any] = {
        "total_rows": total,
        "filter": {"date_from": str(date_from), "date_to": str(date_to), "matching_rows": filter_count},
        "admin_per_page": per_page,
        "admin_deep_page": admin_page,
        "pages": {},
    }
    results["loadavg_before"] = loadavg()
    for key, (our_case, admin_case) in cases.items():
        results["pages"][key] = timed({"ours": our_case, **({"admin": admin_case} if admin_case else {})})
    results["loadavg_after"] = loadavg()
    return results


def check(response: Any, expect: int, pattern: re.Pattern[str], url: str) -> int:
    """The page answered 200 with rows, the first of which is the row expected: the figures are honest."""
    assert response.status_code == 200, (url, response.status_code, response.get("Location"))
    ids = [int(i) for i in pattern.findall(response.content.decode())]
    assert ids, f"no rows on {url}"
    assert ids[0] == expect, f"{url}: first row {ids[0]}, expected {expect}"
    return len(ids)


def _add_months(d: date, n: int) -> date:
    month = d.month - 1 + n
    return d.replace(year=d.year + month // 12, month=month % 12 + 1)


# ================================================================================================
# Parent: databases, workers, report
# ================================================================================================


def ensure_pg_database(url: str, locale: str | None = None) -> None:
    """Create the bench database if absent (UTF-8; with ``locale`` as its LC_COLLATE and LC_CTYPE if given)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            print(f"[PostgreSQL] CREATE DATABASE {name}", flush=True)
            create = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name))
            if locale:
                create += sql.SQL(" LC_COLLATE {} LC_CTYPE {}").format(sql.Literal(locale), sql.Literal(locale))
            conn.execute(create)


def run_worker(
    db: str, runs: int, *, script: str = __file__, databases: dict[str, str] | None = None, name: str = "result"
) -> dict[str, Any]:
    """Run ``script --worker db`` in a fresh process (settings read DATABASE_URL at import) and read its JSON."""
    out = VAR / f"{name}-{db}.json"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CRM_TESTING": "1",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": (databases or DATABASES)[db],
        "ALLOWED_HOSTS": "testserver",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(  # noqa: S603
        [sys.executable, str(Path(script).resolve()), "--worker", db, "--out", str(out), "--runs", str(runs)],
        env=env,
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.read_text())


def machine_info() -> dict[str, str]:
    import django

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
    }


def verdict(db: str, ours: float, admin: float | None) -> str:
    faster = admin is None or ours < admin
    ok = faster and (db != "postgresql" or ours < TARGET_MS)
    return "✅" if ok else "❌"


def render(results: dict[str, dict[str, Any]], machine: dict[str, str], elapsed: float) -> str:
    today = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    versions = {db: r["info"]["db_version"] for db, r in results.items()}
    admin_page = next(iter(results.values()))["results"]["admin_deep_page"]
    per_page = next(iter(results.values()))["results"]["admin_per_page"]
    lines = [
        "## 审计日志列表 (1,000,000 行)",
        "",
        "由 `make bench`(`bench/run.py`)生成,请勿手工修改本节;重新运行即可更新。",
        "",
        f"- 测试时间:{today}(本次运行总耗时 {elapsed / 60:.1f} 分钟)",
        f"- 机器:{machine['cpu']},{machine['nproc']} 核(nproc),内存 {machine['ram']};{machine['os']}",
        f"- PostgreSQL {versions.get('postgresql', '—')},SQLite {versions.get('sqlite', '—')},"
        f"Python {machine['python']},Django {machine['django']}",
        "- 测量时的系统负载(/proc/loadavg,1/5/15 分钟):"
        + ";".join(
            f"{DB_LABELS[db]} 测量前 {r['results']['loadavg_before']},测量后 {r['results']['loadavg_after']}"
            for db, r in results.items()
        )
        + "。",
        "",
        "### 方法",
        "",
        f"- 表 `core_auditlog` 填充到 {ROWS:,} 行:约两年的时间跨度(工作日、工作时间更密集),操作人为演示组织的用户,"
        "操作按权重分布(登录最多,其次修改、新增、退出、导出等),对象为随机中文姓名,IP 为 10.0.x.y。"
        "PostgreSQL 用 COPY 写入,SQLite 在一个事务内 executemany 写入,之后 ANALYZE。数据生成一次,以后的运行直接复用。",
        "- 以演示账号「管理员」(超级用户,数据权限「全部」)登录,用 Django 测试客户端在进程内发请求,"
        f"计时为服务器端处理整个请求的时间(中间件、查询、模板渲染),先预热 {WARMUP} 次,再取 {RUNS} 次的中位数;"
        "同一页面的本系统请求与 admin 请求交替进行,两边承受相同的机器负载。"
        f"查询数与 SQL 耗时用 `CaptureQueriesContext` 在计时之后另外请求 {SQL_RUNS} 次统计(含会话、用户、权限等查询),"
        "SQL 耗时取中位数。",
        "- 每次请求都检查:返回 200、页面上有数据行、第一行正是数据库中应出现在该位置的那一行。",
        f"- 对照组是 Django admin 的 changelist(`crm/core/admin.py`,按常规写法注册,每页 {per_page} 行,"
        "OFFSET 分页,并对全表做 COUNT)。本系统列表每页 20 行,游标(keyset)分页,计数上限 10,000(显示「10,000+」)。",
        f"- 深翻页:本系统按「下一页」按钮的游标(`?after=…`)直接跳到按 (-at, -id) 排序的第 {DEEP_POSITION + 1:,} 行;"
        f"admin 用 `?p={admin_page}` 翻到从同一行开始的那一页。",
        "- 筛选:本系统 `?action=export&date_from=…&date_to=…`;admin `?action__exact=export&at__gte=…&at__lt=…`"
        "(本地时间的同一区间,admin 允许对本模型字段直接加查询条件,无需额外的 list_filter)。",
        "",
        "### 结果",
        "",
        f"目标:PostgreSQL 上每个页面都在 {TARGET_MS:.0f} ms 以内,并且比 Django admin 快。"
        "SQLite 是单机试用的默认数据库,只要求比 admin 快。「SQL ms」为该页全部查询在数据库中的耗时之和,"
        "其余时间花在 Python(中间件、视图、模板渲染)上;它来自计时之后的另外几次请求,"
        "机器负载波动时可能与总耗时对不上(甚至更大)。",
        "",
        "| 页面 | 数据库 | 本系统列表 (ms) | Django admin (ms) | 查询数 本系统 / admin "
        "| SQL ms 本系统 / admin | 达标 |",
        "|---|---|---:|---:|---:|---:|:---:|",
    ]
    for key, label, _has_admin in PAGES:
        for db in DATABASES:
            if db not in results:
                continue
            page = results[db]["results"]["pages"][key]
            ours, adm = page["ours"], page.get("admin")
            lines.append(
                f"| {label} | {DB_LABELS[db]} | {ours['ms']:.1f} | {adm['ms'] if adm else '—'} | "
                f"{ours['queries']} / {adm['queries'] if adm else '—'} | "
                f"{ours['sql_ms']:.1f} / {adm['sql_ms'] if adm else '—'} | "
                f"{verdict(db, ours['ms'], adm['ms'] if adm else None)} |"
            )
    lines += ["", "筛选条件与命中行数:", ""]
    for db, r in results.items():
        f = r["results"]["filter"]
        lines.append(
            f"- {DB_LABELS[db]}:{f['date_from']} 至 {f['date_to']},操作=导出,共 {f['matching_rows']:,} 行;"
            f"表中共 {r['results']['total_rows']:,} 行。"
        )
    lines += [
        "",
        "最慢的一条查询(每页):",
        "",
        "| 页面 | 数据库 | 本系统 最慢 SQL (ms) | admin 最慢 SQL (ms) |",
        "|---|---|---:|---:|",
    ]
    for key, label, _ in PAGES:
        for db in DATABASES:
            if db in results:
                page = results[db]["results"]["pages"][key]
                adm = page.get("admin")
                lines.append(
                    f"| {label} | {DB_LABELS[db]} | {page['ours']['slowest_sql_ms']:.1f} | "
                    f"{adm['slowest_sql_ms'] if adm else '—'} |"
                )
    lines += ["", "原始数据(含每页的 URL、最小/最大耗时与最慢的 SQL)在 `var/bench/result-*.json`。", ""]
    return "\n".join(lines)


def write_section(body: str, section: str = SECTION) -> None:
    """Rewrite this benchmark's own section of docs/performance.md, leaving everything else as it is."""
    start, end = f"<!-- bench:{section}:start -->", f"<!-- bench:{section}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if DOC.exists():
        text = DOC.read_text()
    else:
        text = (
            "# 性能测试\n\n"
            "本文档的各节由基准测试脚本生成(`make bench`,见 `bench/`)。每节前后有 "
            "`<!-- bench:名称:start -->` / `<!-- bench:名称:end -->` 标记,脚本只重写自己那一节,"
            "标记之外的内容(包括手写的说明)保持不变;新的基准测试请使用新的名称追加一节。\n"
        )
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    found = pattern.search(text)
    text = pattern.sub(lambda _m: block, text) if found else text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print()
    print(f"{'page':8} {'database':11} {'ours ms':>9} {'admin ms':>9} {'queries':>9}  target")
    for key, _label, _ in PAGES:
        for db in DATABASES:
            if db in results:
                page = results[db]["results"]["pages"][key]
                ours, adm = page["ours"], page.get("admin")
                admin_ms = f"{adm['ms']:.1f}" if adm else "—"
                queries = f"{ours['queries']}/{adm['queries'] if adm else '—'}"
                mark = verdict(db, ours["ms"], adm["ms"] if adm else None)
                print(f"{key:8} {DB_LABELS[db]:11} {ours['ms']:9.1f} {admin_ms:>9} {queries:>9}  {mark}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=sorted(DATABASES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", action="append", choices=sorted(DATABASES), help="only this database")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs per page (default {RUNS})")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument(
        "--bench", action="append", choices=BENCHMARKS, help="only this benchmark (repeatable; default: all)"
    )
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.out, args.runs)
        return

    benchmarks = args.bench or BENCHMARKS
    if "audit" in benchmarks:
        run_audit(args)
    if "todo" in benchmarks:
        import todo  # bench/todo.py: bench/ is sys.path[0] when this file runs as a script

        todo.run(args.db, args.runs, args.no_doc)
    if "customers" in benchmarks:
        import customers  # bench/customers.py

        customers.run(args.db, args.runs, args.no_doc)
    if "imports" in benchmarks:
        import imports  # bench/imports.py

        imports.run(args.db, None if args.runs == RUNS else args.runs, args.no_doc)
    if "pos" in benchmarks and (not args.db or "postgresql" in args.db):
        import pos  # bench/pos.py (PostgreSQL only)

        pos.run(args.no_doc)


def run_audit(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    VAR.mkdir(parents=True, exist_ok=True)
    selected = args.db or list(DATABASES)
    results = {}
    for db in DATABASES:
        if db not in selected:
            continue
        if db == "postgresql":
            ensure_pg_database(DATABASES[db])
        results[db] = run_worker(db, args.runs)
    elapsed = time.perf_counter() - started
    print_table(results)
    if args.no_doc or set(selected) != set(DATABASES) or args.runs != RUNS:
        print("docs/performance.md not rewritten (partial run)")
        return
    write_section(render(results, machine_info(), elapsed))
    print(f"docs/performance.md updated ({elapsed / 60:.1f} min)")


if __name__ == "__main__":
    main()
