"""``make bench`` (second part): 〖待办业务〗 for one approver with 10,000 pending items among 1,000,000 applications.

Run by ``bench/run.py`` after the audit-log benchmark (``--bench todo`` runs this one alone), or by itself:
``.venv/bin/python bench/todo.py``. For each database (SQLite file var/bench/todo.sqlite3, PostgreSQL database
``crm_bench_todo``) a worker subprocess migrates, loads the demo organisation, fills ``workflow_application``
to 1,000,000 rows with their ``workflow_task`` rows (once: later runs reuse the data), exactly 10,000 of the
pending tasks being 李明's, then times the to-do pages through Django's test client, logged in as 李明.
The parent prints the table and rewrites its own section of docs/performance.md (between
``<!-- bench:todo:start -->`` and ``<!-- bench:todo:end -->``), leaving any other section alone.

Options: ``--db sqlite|postgresql`` (repeatable) to run one database only; ``--runs N``; ``--no-doc``.
Environment: ``BENCH_WORKFLOW_PG_URL`` (default postgres://postgres@127.0.0.1:5432/crm_bench_todo).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

# bench/ is on sys.path whether this file runs as a script or is imported by bench/run.py.
from run import (
    DB_LABELS,
    ROOT,
    RUNS,
    SQL_RUNS,
    TARGET_MS,
    VAR,
    WARMUP,
    db_version,
    ensure_pg_database,
    loadavg,
    log,
    machine_info,
    prepare,
)
from run import run_worker as run_worker_in
from run import write_section as write_section_in

SECTION = "todo"
ROWS = 1_000_000  # applications
PENDING = 10_000  # pending tasks of the approver we log in as
APPROVER = "李明"
FORM_TYPE = "test_request"  # the test-only form type (crm.workflow.testing, installed with CRM_TESTING=1)
DEEP_POSITION = 9_000  # 0-based position, in the list's order (-created_at, -id), of the deep page's first row
SEED = 2016
DATA_END = datetime(2026, 11, 1, tzinfo=UTC)  # the generated history ends here (two years back from it)
PG_URL = os.environ.get("BENCH_WORKFLOW_PG_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_todo")
DATABASES = {
    "sqlite": f"sqlite:///{VAR / 'todo.sqlite3'}",
    "postgresql": PG_URL,
}

FILL_NOTE = VAR / "todo-fill-{db}.json"  # how long the one-time data generation took, for the report

PAGES = [  # (key, label)
    ("first", "待办首页(第 1 页,完整页面)"),
    ("deep", f"深翻页(游标 ?after=…,第 {DEEP_POSITION + 1:,} 行起)"),
    ("filter", f"按类型筛选(?form_type={FORM_TYPE})"),
    ("htmx", "首页 htmx 局部刷新(仅结果区)"),
    ("count", "菜单待办数(/workflow/todo/count/)"),
]


# ================================================================================================
# Worker: one database, inside Django
# ================================================================================================


def worker(db: str, out: Path, runs: int) -> None:
    started = time.perf_counter()
    user = prepare(db, APPROVER, "todo: ")
    from django.db import connection

    fill(db)
    info = {
        "db_version": db_version(connection),
        "fill_seconds": round(time.perf_counter() - started, 1),
        "generation_seconds": generation_seconds(db),
        "data": describe_data(user),
    }
    log(db, f"todo: ready in {info['fill_seconds']} s; measuring ({WARMUP} warm-ups + {runs} runs per page)…")
    results = measure(db, user, runs)
    out.write_text(json.dumps({"db": db, "info": info, "results": results}, ensure_ascii=False, indent=2))


# -- data ----------------------------------------------------------------------------------------

TOPICS = [  # what a club's staff apply for, with a typical amount range (元)
    ("客户答谢宴", 800, 6000),
    ("会员活动场地", 3000, 50000),
    ("市场推广物料", 500, 20000),
    ("差旅报销", 300, 8000),
    ("办公用品采购", 100, 3000),
    ("礼品采购", 500, 15000),
    ("培训费用", 1000, 12000),
    ("广告投放", 5000, 80000),
    ("会籍折扣审批", 0, 0),
    ("合同用印", 0, 0),
]
# (weight, steps): most chains have a manager and a director, larger ones finance as well.
CHAINS = [(0.35, 1), (0.45, 2), (0.20, 3)]
STATUS_DRAFT = 0.01  # share of applications never submitted
REJECTED = 0.10  # share of finished applications rejected


def _in_progress_share(age_days: float) -> float:
    """Recent applications are mostly still in approval; a few old ones are stuck (a real backlog)."""
    if age_days < 14:
        return 0.55
    if age_days < 60:
        return 0.08
    return 0.025


def fill(db: str) -> None:
    """Fill workflow_application (ROWS) and workflow_task, once; a partial or foreign fill is replaced."""
    import random

    from django.db import connection, transaction

    from crm.accounts.models import Department, Role, User
    from crm.core.datagen import People
    from crm.workflow.models import Application, Event, Task
    from crm.workflow.testing.models import SampleRequest

    approver = User.objects.get(username=APPROVER)
    have = Application.objects.count()
    pending = Task.objects.filter(approver=approver, status="pending").count()
    if have == ROWS and pending == PENDING:
        log(db, f"todo: workflow_application has {have:,} rows, {APPROVER} {pending:,} pending tasks: reused")
        return
    if have:
        log(db, f"todo: workflow_application has {have:,} rows ({pending:,} pending for {APPROVER}): replacing")
        with transaction.atomic(), connection.cursor() as cur:
            for model in (SampleRequest, Event, Task, Application):
                cur.execute(f"DELETE FROM {model._meta.db_table}")
    log(db, f"todo: generating {ROWS:,} applications and their tasks…")
    t0 = time.perf_counter()
    rng = random.Random(SEED)
    people = People(SEED)
    names = [people.name() for _ in range(3000)]

    users = list(User.objects.order_by("pk").values_list("pk", "full_name", "department_id"))
    by_name = {n: pk for pk, n, _ in users}
    depts = {d.pk: (d.manager_id, d.parent_id) for d in Department.objects.all()}
    ceo = by_name["赵志刚"]
    me = by_name[APPROVER]
    finance_role = Role.objects.filter(name="财务专员").values_list("pk", flat=True).first()
    finance = by_name.get("吴芳", ceo)

    def steps_json(n: int) -> str:
        steps = [
            {"name": "部门负责人审批", "kind": "dept_manager", "hours": 24, "role": None, "label": ""},
            {"name": "总监审批", "kind": "director", "hours": 48, "role": None, "label": ""},
            {"name": "财务审核", "kind": "role", "hours": None, "role": finance_role, "label": "审核"},
        ][:n]
        return json.dumps(
            [
                {
                    "name": s["name"],
                    "kind": s["kind"],
                    "role": s["role"],
                    "user": None,
                    "assign_role": None,
                    "all": False,
                    "hours": s["hours"],
                    "label": s["label"],
                }
                for s in steps
            ],
            ensure_ascii=False,
        )

    chain_json = {n: steps_json(n) for _, n in CHAINS}
    chain_hours = {0: 24, 1: 48, 2: None}

    def approvers_for(uid: int, dept: int | None) -> list[int]:
        """Step approvers as the chain would resolve them: department manager, director (parent's), finance."""
        manager, parent = depts.get(dept, (None, None)) if dept else (None, None)
        first = manager if manager and manager != uid else (depts.get(parent, (None, None))[0] if parent else None)
        if not first or first == uid:
            first = ceo if uid != ceo else by_name["王建国"]
        director = depts.get(parent, (None, None))[0] if parent else None
        if not director or director in (uid, first):
            director = ceo if ceo not in (uid, first) else by_name["王建国"]
        third = finance if finance not in (uid, first, director) else ceo
        return [first, director, third]

    # The applicants: sales staff apply most.
    weights = [4.0 if n in ("张伟", "刘洋", "杨帆", "李明", "周丽") else 1.5 for _, n, _ in users]
    applicants = rng.choices(users, weights, k=ROWS)

    # Creation times over the last 730 days (working days and hours weigh more), sorted: ids grow with time.
    now = DATA_END.timestamp()  # fixed, not the clock: the same data on every run and both databases
    assert now < time.time(), f"the clock is before {DATA_END}"
    start = now - 730 * 86400
    shanghai = 8 * 3600
    day_weights = [0.35 if datetime.fromtimestamp(start + d * 86400, UTC).weekday() >= 5 else 1.0 for d in range(730)]
    hour_weights = [0.1] * 7 + [0.6, 2, 3, 3, 2.5, 1.5, 2.5, 3, 3, 2.5, 2, 1, 0.6, 0.4, 0.3, 0.2, 0.1]
    day0 = start - (start + shanghai) % 86400
    days = rng.choices(range(730), day_weights, k=ROWS)
    hours = rng.choices(range(24), hour_weights, k=ROWS)
    stamps = sorted(
        min(now - 7200, day0 + d * 86400 + h * 3600 + rng.random() * 3600) for d, h in zip(days, hours, strict=True)
    )

    # Status: "d" draft, "p" in approval, "f" finished (approved or rejected, decided below).
    kinds = []
    for ts in stamps:
        r = rng.random()
        kinds.append(
            "d" if r < STATUS_DRAFT else "p" if r < STATUS_DRAFT + _in_progress_share((now - ts) / 86400) else "f"
        )
    candidates = [i for i, k in enumerate(kinds) if k == "p" and applicants[i][0] != me]
    assert len(candidates) >= PENDING, f"only {len(candidates)} applications in approval"
    mine = set(rng.sample(candidates, PENDING))

    base = (Application.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    tasks: list[tuple[Any, ...]] = []  # (application_id, step, approver_id, status, created, due, opened, acted)

    def dt(ts: float | None) -> datetime | None:
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    def applications() -> Any:
        """Rows of workflow_application (columns as ``app_columns``); the tasks go to ``tasks`` meanwhile."""
        for i, (ts, kind, (uid, _uname, dept)) in enumerate(zip(stamps, kinds, applicants, strict=True)):
            app_id = base + i
            topic, lo, hi = TOPICS[rng.randrange(len(TOPICS))]
            title = f"{topic} {rng.randrange(lo, hi) // 100 * 100:,} 元" if hi else f"{topic}({rng.choice(names)})"
            head = (app_id, dt(ts))
            who = (FORM_TYPE, title, uid, dept)
            if kind == "d":
                yield (*head, dt(ts), *who, "draft", False, "", 0, "[]", None, None, None, False)
                continue
            n = rng.choices([c for _, c in CHAINS], [w for w, _ in CHAINS])[0]
            submitted = ts + rng.random() * 1800
            budget = (now - submitted) / (n + 1)  # every step's wait fits before now
            chain = approvers_for(uid, dept)
            if kind == "p":
                current, rejected = rng.randrange(n), False
                last = current
            else:
                current, rejected = None, rng.random() < REJECTED
                last = rng.randrange(n) if rejected else n - 1  # a rejection may come at any step
            t = submitted
            for step in range(last + 1):
                approver_id = chain[step]
                hours_ = chain_hours[step]
                due = t + hours_ * 3600 if hours_ else None
                if kind == "p" and step == current:
                    approver_id = me if i in mine else (approver_id if approver_id != me else by_name["王建国"])
                    opened = t + rng.random() * min(budget, 4 * 3600) if rng.random() < 0.3 else None
                    tasks.append((app_id, step, approver_id, "pending", t, due, opened, None))
                    break
                wait = min(budget, rng.expovariate(1 / (8 * 3600)) + 300)
                status = "rejected" if rejected and step == last else "approved"
                tasks.append((app_id, step, approver_id, status, t, due, t + wait * 0.8, t + wait))
                t += wait
            if kind == "p":
                yield (
                    *head,
                    dt(t),
                    *who,
                    "in_progress",
                    False,
                    "",
                    1,
                    chain_json[n],
                    current,
                    dt(submitted),
                    None,
                    False,
                )
            else:
                status = "rejected" if rejected else "approved"
                yield (*head, dt(t), *who, status, False, "", 1, chain_json[n], None, dt(submitted), dt(t), False)

    def task_rows() -> Any:
        for app_id, step, approver_id, status, created, due, opened, acted in tasks:
            yield app_id, 1, step, approver_id, FORM_TYPE, status, dt(created), dt(due), dt(opened), dt(acted)

    app_columns = (
        "id, created_at, updated_at, form_type, title, applicant_id, department_id, status, returned, "
        "return_opinion, round, steps, current_step, submitted_at, finished_at, handler_can_edit"
    )
    task_columns = (
        "application_id, round, step, approver_id, form_type, status, created_at, due_at, opened_at, acted_at"
    )
    connection.ensure_connection()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                with cur.cursor.copy(f"COPY workflow_application ({app_columns}) FROM STDIN") as copy:
                    for row in applications():
                        copy.write_row(row)
                log(db, f"todo: {ROWS:,} applications copied ({time.perf_counter() - t0:.0f} s); {len(tasks):,} tasks…")
                with cur.cursor.copy(f"COPY workflow_task ({task_columns}) FROM STDIN") as copy:
                    for row in task_rows():
                        copy.write_row(row)
                cur.execute(
                    "SELECT setval(pg_get_serial_sequence('workflow_application', 'id'), "
                    "(SELECT max(id) FROM workflow_application))"
                )
        else:
            sqlite = connection.connection

            def naive(row: tuple[Any, ...]) -> tuple[Any, ...]:
                # Django stores SQLite datetimes as naive UTC text (str(datetime)).
                return tuple(str(v.replace(tzinfo=None)) if isinstance(v, datetime) else v for v in row)

            sqlite.executemany(
                f"INSERT INTO workflow_application ({app_columns}) VALUES ({', '.join(['?'] * 16)})",
                (naive(r) for r in applications()),
            )
            log(db, f"todo: {ROWS:,} applications inserted ({time.perf_counter() - t0:.0f} s); {len(tasks):,} tasks…")
            sqlite.executemany(
                f"INSERT INTO workflow_task ({task_columns}) VALUES ({', '.join(['?'] * 10)})",
                (naive(r) for r in task_rows()),
            )
    log(db, f"todo: inserted in {time.perf_counter() - t0:.0f} s; ANALYZE…")
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # The steady state autovacuum reaches (visibility map set: index-only scans need no heap visits).
            cur.execute("VACUUM (ANALYZE) workflow_application")
            cur.execute("VACUUM (ANALYZE) workflow_task")
        else:
            cur.execute("ANALYZE")
    pending = Task.objects.filter(approver=approver, status="pending").count()
    assert pending == PENDING, f"{APPROVER} has {pending} pending tasks"
    FILL_NOTE.with_name(FILL_NOTE.name.format(db=db)).write_text(
        json.dumps({"seconds": round(time.perf_counter() - t0), "at": datetime.now(UTC).isoformat()})
    )


def generation_seconds(db: str) -> int | None:
    try:
        return int(json.loads(FILL_NOTE.with_name(FILL_NOTE.name.format(db=db)).read_text())["seconds"])
    except (OSError, ValueError, KeyError):
        return None


def describe_data(user: Any) -> dict[str, Any]:
    from django.db.models import Count

    from crm.workflow.models import Application, Task

    apps = dict(Application.objects.order_by().values_list("status").annotate(n=Count("id")))
    tasks = dict(Task.objects.order_by().values_list("status").annotate(n=Count("id")))
    pending = Task.objects.filter(status="pending")
    approvers = pending.order_by().values("approver").distinct().count()
    return {
        "applications": sum(apps.values()),
        "application_status": apps,
        "tasks": sum(tasks.values()),
        "task_status": tasks,
        "pending": pending.count(),
        "pending_mine": pending.filter(approver=user).count(),
        "pending_approvers": approvers,
    }


# -- measurement ---------------------------------------------------------------------------------

ROW = re.compile(r'<tr data-href="[^"]*/workflow/(\d+)/"')
LIST_COUNT = re.compile(r'data-testid="list-count">\s*([^<]*?)\s*<')
BADGE = re.compile(r'data-testid="todo-count">(\d+)<')


def measure(db: str, user: Any, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from crm.core.lists import encode_cursor
    from crm.workflow.models import Task

    client = Client()
    client.force_login(user, backend="crm.accounts.backends.RoleBackend")

    ordered = Task.objects.filter(approver=user, status="pending").order_by("-created_at", "-id")
    total = ordered.count()
    assert total == PENDING, f"{APPROVER} has {total} pending tasks"
    top_app = ordered.values_list("application_id", flat=True)[0]
    # The deep page: the cursor of the row just before DEEP_POSITION, as the "next" button would carry it.
    cur_at, cur_id = ordered.values_list("created_at", "id")[DEEP_POSITION - 1]
    deep_app = ordered.values_list("application_id", flat=True)[DEEP_POSITION]
    filtered = ordered.filter(form_type=FORM_TYPE)
    filter_count = filtered.count()
    filter_app = filtered.values_list("application_id", flat=True)[0]

    todo = reverse("workflow:todo")
    count_url = reverse("workflow:todo_count")
    cases: dict[str, dict[str, Any]] = {
        "first": {"url": todo, "expect": top_app, "count": total},
        "deep": {"url": f"{todo}?{urlencode({'after': encode_cursor([cur_at, cur_id])})}", "expect": deep_app},
        "filter": {"url": f"{todo}?{urlencode({'form_type': FORM_TYPE})}", "expect": filter_app, "count": filter_count},
        "htmx": {
            "url": todo,
            "expect": top_app,
            "count": total,
            "headers": {"HX-Request": "true", "HX-Target": "results-bench"},
        },
        "count": {"url": count_url, "badge": total},
    }

    def get(case: dict[str, Any]) -> tuple[float, Any]:
        t0 = time.perf_counter()
        response = client.get(case["url"], headers=case.get("headers"))
        return (time.perf_counter() - t0) * 1000, response

    results: dict[str, Any] = {
        "pending": total,
        "deep_position": DEEP_POSITION,
        "filter_matching": filter_count,
        "pages": {},
        "loadavg_before": loadavg(),
    }
    for key, case in cases.items():
        for _ in range(WARMUP):
            check(get(case)[1], case)
        times = []
        for _ in range(runs):
            ms, response = get(case)
            assert response.status_code == 200, (case["url"], response.status_code)
            times.append(ms)
        # The queries, counted and timed on a few more requests (the debug cursor is not in the timed runs).
        # The queries, counted (CaptureQueriesContext) and timed to the microsecond with their parameters
        # (execute_wrapper) on a few more requests: the debug cursor is not in the timed runs.
        captures: list[list[tuple[float, str, Any]]] = []
        counted = []
        for _ in range(SQL_RUNS):
            calls: list[tuple[float, str, Any]] = []

            def timer(execute: Any, sql: str, params: Any, many: bool, context: Any, calls: list = calls) -> Any:
                t0 = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    calls.append(((time.perf_counter() - t0) * 1000, sql, params))

            with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(timer):
                response = get(case)[1]
            counted.append(len(ctx.captured_queries))
            captures.append(calls)
        shown = check(response, case)
        sql = captures[-1]
        slowest = max(range(len(sql)), key=lambda j: sql[j][0], default=None)
        slowest_text = ctx.captured_queries[slowest]["sql"] if slowest is not None and len(sql) == counted[-1] else ""
        results["pages"][key] = result = {
            "url": case["url"],
            "ms": round(statistics.median(times), 1),
            "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1),
            "queries": counted[-1],
            "sql_ms": round(statistics.median(sum(t for t, *_ in c) for c in captures), 2),
            "slowest_sql_ms": round(statistics.median(max((t for t, *_ in c), default=0.0) for c in captures), 2),
            "slowest_sql": slowest_text[:600],
            **shown,
            "bytes": len(response.content),
            # Where the time of each query on the tasks goes: its median time and its plan (real parameters).
            "task_queries": [
                {
                    "kind": query_kind(q),
                    "ms": round(statistics.median(c[j][0] for c in captures if len(c) > j), 2),
                    "sql": q[:600],
                    "params": [str(p) for p in params or ()],
                    "plan": explain(connection, q, params),
                }
                for j, (_, q, params) in enumerate(sql)
                if "workflow_task" in q
            ],
        }
        log(db, f"todo: {key:6} {case['url'][:80]:80} {result['ms']:8.1f} ms {result['queries']:2} queries {shown}")
    results["loadavg_after"] = loadavg()
    return results


def check(response: Any, case: dict[str, Any]) -> dict[str, Any]:
    """The page answered 200 with rows, the first of which is the row expected: the figures are honest."""
    url = case["url"]
    assert response.status_code == 200, (url, response.status_code, response.get("Location"))
    text = response.content.decode()
    if "badge" in case:
        found = BADGE.search(text)
        assert found, f"no badge on {url}: {text[:200]!r}"
        assert int(found.group(1)) == case["badge"], f"{url}: badge {found.group(1)}, expected {case['badge']}"
        return {"badge": int(found.group(1))}
    ids = [int(i) for i in ROW.findall(text)]
    assert ids, f"no rows on {url}"
    assert ids[0] == case["expect"], f"{url}: first row {ids[0]}, expected {case['expect']}"
    shown: dict[str, Any] = {"rows": len(ids)}
    counted = LIST_COUNT.search(text)
    if counted:
        shown["count_text"] = counted.group(1)
        if "count" in case:
            digits = int(re.sub(r"\D", "", counted.group(1)) or -1)
            assert digits == case["count"], f"{url}: count {counted.group(1)!r}, expected {case['count']}"
    return shown


def query_kind(sql: str) -> str:
    if sql.startswith("SELECT COUNT(*) FROM"):
        return "count"  # capped_count: the number above the list
    if "GROUP BY" in sql:
        return "groups"  # selectors.todo_counts: per form type (quick filters, menu badge)
    return "rows"  # the page of rows


QUERY_LABELS = {"rows": "取一页(21 行)", "count": "列表条数(上限 10,000)", "groups": "按类型计数"}


def explain(connection: Any, sql: str, params: Any) -> list[str]:
    """The plan of ``sql`` with the parameters the page bound (SQLite plans a partial index by their values)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            return [r[0] for r in cur.fetchall()]
        cur.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return [r[-1] for r in cur.fetchall()]


# ================================================================================================
# Parent: databases, workers, report
# ================================================================================================


def run_worker(db: str, runs: int) -> dict[str, Any]:
    return run_worker_in(db, runs, script=__file__, databases=DATABASES, name="result-todo")


def verdict(ms: float) -> str:
    return "✅" if ms < TARGET_MS else "❌"


def render(results: dict[str, dict[str, Any]], machine: dict[str, str], elapsed: float) -> str:
    today = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    versions = {db: r["info"]["db_version"] for db, r in results.items()}
    data = next(iter(results.values()))["info"]["data"]
    app_status = data["application_status"]
    task_status = data["task_status"]
    status_names = {
        "approved": "已通过",
        "rejected": "已拒绝",
        "in_progress": "审批中",
        "draft": "草稿",
        "pending": "待办",
    }

    def shares(counts: dict[str, int]) -> str:
        total = sum(counts.values())
        return "、".join(
            f"{status_names.get(k, k)} {n:,}({n / total:.1%})" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])
        )

    took = {db: r["info"].get("generation_seconds") for db, r in results.items()}
    generated = (
        "(生成数据用时:"
        + ",".join(f"{DB_LABELS[db]} {t / 60:.1f} 分钟" for db, t in took.items() if t is not None)
        + ")"
        if any(t is not None for t in took.values())
        else ""
    )
    lines = [
        f"## 待办业务 ({ROWS:,} 个申请单中某人的 {PENDING:,} 条待办)",
        "",
        "由 `make bench`(`bench/todo.py`,经 `bench/run.py` 调用)生成,请勿手工修改本节;重新运行即可更新。",
        "",
        f"- 测试时间:{today}(本节两个数据库合计耗时 {elapsed / 60:.1f} 分钟)",
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
        f"- 数据:`workflow_application` {data['applications']:,} 行({shares(app_status)}),"
        f"申请单类型均为 `{FORM_TYPE}`(仅测试环境安装的申请单类型,列表只读申请单与待办,不需要其表单数据);"
        "申请人为演示组织的全部用户(销售人员较多),创建时间约两年(工作日、工作时间更密集),id 随时间增长;"
        "审批流程 1–3 步(部门负责人、总监、财务),截止日前两周的申请单多数仍在审批中,较早的少数滞留。"
        f"`workflow_task` {data['tasks']:,} 行({shares(task_status)}):已办结的申请单每步一条已处理记录,"
        f"审批中的申请单在当前步骤有一条待办;待办共 {data['pending']:,} 条,分属 {data['pending_approvers']} 个审批人,"
        f"其中演示用户「{APPROVER}」恰好 {data['pending_mine']:,} 条。待办记录的申请单类型从申请单复制。"
        "PostgreSQL 用 COPY 写入,SQLite 在一个事务内 executemany 写入,之后 VACUUM ANALYZE / ANALYZE" + generated + "。"
        f"数据截止 {DATA_END:%Y-%m-%d},只生成一次(固定随机种子与截止日期,两个数据库内容相同),以后的运行直接复用;"
        "使用独立的数据库(PostgreSQL `crm_bench_todo`,"
        "SQLite `var/bench/todo.sqlite3`),与审计日志测试的数据互不影响。",
        f"- 以演示账号「{APPROVER}」(销售经理)登录(`force_login`;本测试库中清除了其初始密码标记,"
        "否则中间件会转到修改密码页面),用 Django 测试客户端在进程内发请求,计时为服务器端处理整个请求的时间"
        f"(中间件、查询、模板渲染),每个页面先预热 {WARMUP} 次,再取 {RUNS} 次的中位数。"
        f"查询数用 `CaptureQueriesContext`、每条查询的耗时(含驱动往返)与参数用 `connection.execute_wrapper` "
        f"在计时之后另外请求 {SQL_RUNS} 次统计(含会话、用户、权限等查询),取中位数。",
        "- 每次请求都检查:返回 200、页面上有数据行、第一行正是按 (-created_at, -id) 排序应出现在该位置的待办,"
        f"列表上方的条数为 {PENDING:,};菜单待办数检查徽标上的数字为 {PENDING:,}。",
        f"- 深翻页:「下一页」按钮的游标(`?after=…`,`crm.core.lists.encode_cursor` 编码第 {DEEP_POSITION:,} 行的"
        f"(created_at, id))直接跳到第 {DEEP_POSITION + 1:,} 行。"
        f"按类型筛选:`?form_type={FORM_TYPE}`(只注册了这一种类型,故命中全部 {PENDING:,} 条)。"
        "htmx 局部刷新:请求头 `HX-Request: true`、`HX-Target: results-bench`,只渲染结果区。",
        "",
        "### 结果",
        "",
        f"目标:PostgreSQL 上每个页面都在 {TARGET_MS:.0f} ms 以内;SQLite 同样列出并按同一标准标注。"
        "「SQL ms」为该页全部查询的耗时之和(含驱动往返),其余时间花在 Python(中间件、视图、模板渲染)上;"
        "它来自计时之后的另外几次请求,机器负载波动时可能与总耗时对不上。",
        "",
        "| 页面 | 数据库 | 耗时中位数 (ms) | 最小 / 最大 (ms) | 查询数 | SQL ms | 最慢 SQL (ms) | 达标 |",
        "|---|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for key, label in PAGES:
        for db in DATABASES:
            if db not in results:
                continue
            p = results[db]["results"]["pages"][key]
            lines.append(
                f"| {label} | {DB_LABELS[db]} | {p['ms']:.1f} | {p['min_ms']:.1f} / {p['max_ms']:.1f} | "
                f"{p['queries']} | {p['sql_ms']:.1f} | {p['slowest_sql_ms']:.2f} | {verdict(p['ms'])} |"
            )
    lines += [
        "",
        "读待办表的各条查询(待办首页;耗时为计时后另外几次请求的中位数;执行计划以页面实际绑定的参数取得,"
        "只列出与待办表有关的部分,PostgreSQL 为 EXPLAIN (ANALYZE, BUFFERS),SQLite 为 EXPLAIN QUERY PLAN):",
        "",
        "| 查询 | 数据库 | 耗时 (ms) | 执行计划 |",
        "|---|---|---:|---|",
    ]
    for db in DATABASES:
        if db not in results:
            continue
        for q in results[db]["results"]["pages"]["first"]["task_queries"]:
            lines.append(
                f"| {QUERY_LABELS.get(q['kind'], q['kind'])} | {DB_LABELS[db]} | {q['ms']:.2f} | "
                f"{plan_summary(q['plan'])} |"
            )
    slow_counts = [
        q
        for q in results.get("sqlite", {}).get("results", {}).get("pages", {}).get("first", {}).get("task_queries", [])
        if q["kind"] in ("count", "groups") and q["ms"] > 5 and not any("COVERING" in line for line in q["plan"])
    ]
    if slow_counts:
        lines += [
            "",
            "SQLite 上两条计数查询(各数 1 万条待办)占了页面 SQL 耗时的大部分:计划是 `USING INDEX` 而不是 "
            "`USING COVERING INDEX`。部分索引 `task_todo_idx` / `task_todo_type_idx` 的条件是 `status = 'pending'`,"
            "而 Django 把 `'pending'` 作为绑定参数传入;SQLite 据参数值选用了部分索引,却仍把 `status = ?` "
            "当作须逐行核对的条件,每条索引项都回表读一次。PostgreSQL 不受影响(`Index Only Scan`,`Heap Fetches: 0`)。",
        ]
    lines += [
        "",
        "原始数据(含每页的 URL、最小/最大耗时、最慢的 SQL,以及每条读待办表的查询的完整执行计划)在 "
        "`var/bench/result-todo-*.json`。",
        "",
    ]
    return "\n".join(lines)


def plan_summary(plan: list[str]) -> str:
    """The plan's nodes on workflow_task with their conditions (and PostgreSQL's execution time), in one cell."""
    keep, inside = [], False
    for line in plan:
        text = re.sub(r"\s*\(cost=[^)]*\)", "", line.strip().removeprefix("->").strip())
        node = line.lstrip().startswith("->") or not line.startswith(" ")
        if node:
            inside = "workflow_task" in text and ("Scan" in text or text.startswith(("SEARCH", "SCAN")))
        if (inside and not text.startswith("Buffers")) or text.startswith("Execution Time"):
            keep.append(text)
    return "<br>".join(f"`{k}`" for k in keep).replace("|", "\\|")


def write_section(body: str) -> None:
    write_section_in(body, SECTION)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print()
    print(f"{'todo page':10} {'database':11} {'ms':>8} {'min':>7} {'max':>7} {'queries':>8} {'sql ms':>7}  target")
    for key, _label in PAGES:
        for db in DATABASES:
            if db in results:
                p = results[db]["results"]["pages"][key]
                print(
                    f"{key:10} {DB_LABELS[db]:11} {p['ms']:8.1f} {p['min_ms']:7.1f} {p['max_ms']:7.1f} "
                    f"{p['queries']:8} {p['sql_ms']:7.1f}  {verdict(p['ms'])}"
                )
    print()


def run(selected: list[str] | None = None, runs: int = RUNS, no_doc: bool = False) -> None:
    """Both databases (or ``selected``), then the table and, on a full default run, the section of the doc."""
    started = time.perf_counter()
    VAR.mkdir(parents=True, exist_ok=True)
    selected = selected or list(DATABASES)
    results = {}
    for db in DATABASES:
        if db not in selected:
            continue
        if db == "postgresql":
            ensure_pg_database(DATABASES[db])
        results[db] = run_worker(db, runs)
    elapsed = time.perf_counter() - started
    print_table(results)
    if no_doc or set(selected) != set(DATABASES) or runs != RUNS:
        print("docs/performance.md not rewritten for the to-do benchmark (partial run)")
        return
    write_section(render(results, machine_info(), elapsed))
    print(f"docs/performance.md updated: to-do section ({elapsed / 60:.1f} min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=sorted(DATABASES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", action="append", choices=sorted(DATABASES), help="only this database")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"timed runs per page (default {RUNS})")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.out, args.runs)
        return
    sys.path.insert(0, str(ROOT))
    run(args.db, args.runs, args.no_doc)


if __name__ == "__main__":
    main()
