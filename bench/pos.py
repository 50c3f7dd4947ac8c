"""``make bench`` (fifth part): the POS API under load, and the customer's 积分 tab with 100,000 ledger entries.

PostgreSQL only (the API's production database). The parent drops and recreates ``crm_bench_pos`` (C.UTF-8), then a
worker subprocess (Django) migrates it, loads the demo organisation, makes ``MEMBERS`` formal customers and an
API client, and gives one member ``LEDGER`` ledger entries (generated in SQL: gifts and redemptions, with their lots,
the account's cached balance equal to their sum). The parent then starts gunicorn as docs/deployment.md runs it
(4 sync workers, production settings, behind-a-proxy headers) and drives it from ``THREADS`` client threads, each
posting consumptions as a POS would: a random member, a new order number and a new ``Idempotency-Key`` per post,
one HTTP connection per request. After a warm-up it counts the 201 answers for ``SECONDS`` seconds; any other answer
is an error and fails the run. Afterwards the worker checks that the database holds exactly the consumptions that
were answered 201, each with its earn entry, and runs ``points_reconcile``; then it times the 积分 tab of the member
with 100,000 entries for his owner (Django test client, median of ``TAB_RUNS``).

The parent prints the figures and rewrites its own section of docs/performance.md (``bench:pos``).
Options: ``--seconds N``, ``--threads N``, ``--no-doc``. Environment: ``BENCH_POS_PG_URL``, ``BENCH_POS_PORT``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from run import DOC, ROOT, VAR, db_version, ensure_pg_database, loadavg, log, machine_info
from run import write_section as write_section_in

SECTION = "pos"
PG_URL = os.environ.get("BENCH_POS_PG_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_pos")
MEMBERS = 2_000
LEDGER = 100_000
THREADS = 8
WORKERS = 4
SECONDS = 30
WARMUP_SECONDS = 5
TAB_RUNS = 15
TARGET_POSTS_S = 500
TARGET_TAB_MS = 50.0
PORT = int(os.environ.get("BENCH_POS_PORT", "8765"))
OWNER = "张伟"


# ================================================================================================
# Worker (inside Django)
# ================================================================================================


def worker_setup(out: Path) -> None:
    from run import prepare

    prepare("postgresql", OWNER, "pos: ")
    from django.db import connection

    from crm.accounts.models import User
    from crm.core.api import OPERATIONS, autodiscover
    from crm.core.services import api_client_create
    from crm.customers.models import Customer, CustomerStatus
    from crm.loyalty import selectors

    owners = list(User.objects.filter(username__in=["张伟", "刘洋", "周丽", "杨帆"]))
    now = datetime.now().astimezone()
    log("postgresql", f"pos: {MEMBERS:,} members…")
    Customer.objects.bulk_create(
        [
            Customer(
                name=f"会员{i:05d}",
                mobile=f"138{i:08d}",
                card_no=f"JSHB{i:06d}",
                owner=owners[i % len(owners)],
                department=owners[i % len(owners)].department,
                registered_by=owners[i % len(owners)],
                status=CustomerStatus.FORMAL,
                owned_since=now,
                approved_at=now,
            )
            for i in range(MEMBERS)
        ],
        batch_size=1000,
    )
    autodiscover()
    _client, key = api_client_create(actor=None, name="压测 POS", operations=list(OPERATIONS))
    owner = User.objects.get(username=OWNER)
    rich = Customer.objects.create(
        name="积分大户",
        mobile="13700000000",
        card_no="JSHB999999",
        owner=owner,
        department=owner.department,
        registered_by=owner,
        status=CustomerStatus.FORMAL,
        owned_since=now,
        approved_at=now,
    )
    log("postgresql", f"pos: {LEDGER:,} ledger entries for one member…")
    fill_ledger(connection, rich.pk, selectors.lowest_level().pk, owner.pk)
    out.write_text(
        json.dumps(
            {
                "key": key,
                "cards": [f"JSHB{i:06d}" for i in range(MEMBERS)],
                "rich": rich.pk,
                "db": db_version(connection),
            }
        )
    )


def fill_ledger(connection: Any, customer_id: int, level_id: int, user_id: int) -> None:
    """``LEDGER`` entries over the past three years, alternately a gift of 10 points (its lot, 5 of them left) and a
    redemption of 5; the cached balance is their sum, as ``points_reconcile`` checks."""
    half = LEDGER // 2
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO loyalty_pointsaccount (customer_id, level_id, balance, level_since, created_at, updated_at) "
            "VALUES (%s, %s, 0, now(), now(), now()) RETURNING id",
            [customer_id, level_id],
        )
        account = cur.fetchone()[0]
        cur.execute(
            """
            INSERT INTO loyalty_pointsentry (account_id, kind, points, balance_after, reason, source_ref,
                                             created_by_id, created_at)
            SELECT %(a)s, CASE WHEN g %% 2 = 0 THEN 'gift' ELSE 'redeem' END,
                   CASE WHEN g %% 2 = 0 THEN 10 ELSE -5 END,
                   (g / 2 + 1) * 10 - ((g + 1) / 2) * 5,
                   CASE WHEN g %% 2 = 0 THEN '活动赠送' ELSE '兑换' END, '', %(u)s,
                   now() - interval '3 years' + g * interval '15 minutes'
            FROM generate_series(0, %(n)s - 1) AS g
            """,
            {"a": account, "u": user_id, "n": LEDGER},
        )
        cur.execute(
            "INSERT INTO loyalty_pointslot (account_id, entry_id, points, remaining, expires_on) "
            "SELECT account_id, id, 10, 5, (created_at + interval '4 years')::date FROM loyalty_pointsentry "
            "WHERE account_id = %s AND kind = 'gift'",
            [account],
        )
        # each redemption took its 5 points from the gift just before it
        cur.execute(
            "INSERT INTO loyalty_pointslotuse (lot_id, entry_id, points) "
            "SELECT l.id, r.id, 5 FROM loyalty_pointsentry r JOIN loyalty_pointslot l ON l.entry_id = r.id - 1 "
            "WHERE r.account_id = %s AND r.kind = 'redeem'",
            [account],
        )
        cur.execute("UPDATE loyalty_pointsaccount SET balance = %s WHERE id = %s", [half * 5, account])
        cur.execute("ANALYZE")


def worker_verify(out: Path, answered: int) -> None:
    from run import prepare

    prepare("postgresql", OWNER, "pos: ")
    from django.core.management import call_command
    from django.db.models import Count

    from crm.loyalty.models import Consumption, EntryKind, PointsEntry

    sales = Consumption.objects.filter(source="api").count()
    earned = PointsEntry.objects.filter(kind=EntryKind.EARN).aggregate(n=Count("id"))["n"]
    ok = sales == answered == earned
    reconciled = True
    try:
        call_command("points_reconcile", stdout=open(os.devnull, "w"))  # noqa: SIM115
    except SystemExit as exc:
        reconciled = exc.code in (0, None)
    out.write_text(json.dumps({"consumptions": sales, "earn_entries": earned, "ok": ok, "reconciled": reconciled}))


def worker_tab(out: Path, customer_id: int) -> None:
    from run import prepare

    user = prepare("postgresql", OWNER, "pos: ")
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    url = reverse("customers:customer_tab", args=[customer_id, "points"])
    client = Client()
    client.force_login(user)
    for _ in range(3):
        assert client.get(url, HTTP_HX_REQUEST="true").status_code == 200
    times = []
    for _ in range(TAB_RUNS):
        t0 = time.perf_counter()
        response = client.get(url, HTTP_HX_REQUEST="true")
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "250,000" in body or "250000" in body, "the tab does not show the member's balance"
    out.write_text(
        json.dumps(
            {
                "url": url,
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
                "queries": len(queries),
            }
        )
    )


# ================================================================================================
# Parent
# ================================================================================================


def fresh_database() -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(PG_URL)
    maintenance = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(parts.path.lstrip("/"))))
    ensure_pg_database(PG_URL, locale="C.UTF-8")


def django_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "DATABASE_URL": PG_URL,
        "LOG_LEVEL": "WARNING",
    }


def run_worker(step: str, *extra: str) -> dict[str, Any]:
    out = VAR / f"result-pos-{step}.json"
    out.unlink(missing_ok=True)
    subprocess.run(  # noqa: S603
        [sys.executable, str(Path(__file__).resolve()), "--worker", step, "--out", str(out), *extra],
        env={**django_env(), "CRM_TESTING": "1"},
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.read_text())


def start_gunicorn(floors: bool = False) -> subprocess.Popen[bytes]:
    """gunicorn as docs/deployment.md runs it; with ``floors``, also serving ``bench/pos_floor_urls.py``."""
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        *(["--pythonpath", str(Path(__file__).resolve().parent)] if floors else []),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{PORT}",
        "--workers",
        str(WORKERS),
        "--timeout",
        "60",
        "--log-level",
        "warning",
    ]
    env = {**django_env(), **({"DJANGO_SETTINGS_MODULE": "pos_floor_settings"} if floors else {})}
    with socket.socket() as probe:  # another server on the port would answer the load in gunicorn's place
        if probe.connect_ex(("127.0.0.1", PORT)) == 0:
            raise SystemExit(f"pos: port {PORT} is taken by another server; stop it or set BENCH_POS_PORT")
    server = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/api/v1/openapi.json", headers={"X-Forwarded-Proto": "https"})
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("gunicorn did not start")


class Load:
    """``threads`` POS terminals posting consumptions until told to stop; 201s and latencies counted while on."""

    def __init__(
        self, key: str, cards: list[str], threads: int, path: str = "/api/v1/consumptions", expect: int = 201
    ) -> None:
        self.key, self.cards, self.threads, self.path, self.expect = key, cards, threads, path, expect
        self.counting = False
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0  # 201s while counting
        self.answered = 0  # every 201, warm-up included (the database must hold exactly these)
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def terminal(self, n: int) -> None:
        rng = random.Random(n)
        seq = 0
        while not self.stop.is_set():
            seq += 1
            body = json.dumps(
                {
                    "card_no": rng.choice(self.cards),
                    "order_no": f"{self.path.rsplit('/', 1)[-1][:1].upper()}{n}-{seq}",
                    "amount": f"{rng.randint(50, 20000)}.{rng.randint(0, 99):02d}",
                    "category": rng.choice(["dining", "tea_wine", "room", "spa"]),
                    "payment": "card",
                }
            )
            headers = {
                "Authorization": f"Bearer {self.key}",
                "Idempotency-Key": str(uuid.uuid4()),
                "Content-Type": "application/json",
                "X-Forwarded-Proto": "https",
            }
            t0 = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
                conn.close()
            except OSError as exc:
                with self.lock:
                    self.errors.append(repr(exc))
                continue
            elapsed = time.perf_counter() - t0
            with self.lock:
                if response.status == self.expect:
                    self.answered += 1
                    if self.counting:
                        self.ok += 1
                        self.latencies.append(elapsed * 1000)
                else:
                    self.errors.append(f"{response.status} {content[:200]!r}")

    def run(self, warmup: float, seconds: float) -> float:
        workers = [threading.Thread(target=self.terminal, args=(i,)) for i in range(self.threads)]
        for t in workers:
            t.start()
        time.sleep(warmup)
        with self.lock:
            self.counting = True
        t0 = time.perf_counter()
        time.sleep(seconds)
        with self.lock:
            self.counting = False
        elapsed = time.perf_counter() - t0
        self.stop.set()
        for t in workers:
            t.join()
        return elapsed


FLOOR_SECONDS = 15


def open_accounts() -> None:
    """Every member gets a points account (the thin floor writes only to existing ones)."""
    import psycopg

    with psycopg.connect(urlunsplit(urlsplit(PG_URL)._replace(scheme="postgresql")), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO loyalty_pointsaccount (balance, level_since, created_at, updated_at, customer_id, level_id) "
            "SELECT 0, now(), now(), now(), c.id, (SELECT id FROM loyalty_memberlevel ORDER BY rank LIMIT 1) "
            "FROM customers_customer c WHERE c.card_no IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM loyalty_pointsaccount a WHERE a.customer_id = c.id)"
        )


def measure_floors(setup: dict[str, Any], threads: int) -> dict[str, float]:
    """The same load against ``bench/pos_floor_urls.py``: the framework answering at once, and the fewest
    hand-written statements writing the same rows (posts per second, each after its own warm-up)."""
    open_accounts()
    server = start_gunicorn(floors=True)
    rates: dict[str, float] = {}
    try:
        for name, expect in (("noop", 200), ("thin", 201)):
            log("postgresql", f"pos: floor {name}, {FLOOR_SECONDS} s…")
            load = Load(setup["key"], setup["cards"], threads, path=f"/bench/{name}", expect=expect)
            elapsed = load.run(WARMUP_SECONDS, FLOOR_SECONDS)
            if load.errors:
                raise SystemExit(f"pos: floor {name}: {load.errors[:3]}")
            rates[name] = round(load.ok / elapsed, 1)
            log("postgresql", f"pos: floor {name} {rates[name]:,.0f} posts/s")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return rates


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    load, tab, floors = result["load"], result["tab"], result["floors"]
    post_mark = "✅ 达标" if load["posts_per_s"] >= TARGET_POSTS_S else "❌ 未达标"
    tab_mark = "✅ 达标" if tab["median_ms"] < TARGET_TAB_MS else "❌ 未达标"
    return "\n".join(
        [
            "## POS 接口吞吐与「积分」页签",
            "",
            f"由 `bench/pos.py` 生成(`make bench` 或 `.venv/bin/python bench/run.py --bench pos`),"
            f"{result['date']},机器:{m['cpu']},{m['nproc']} 核,内存 {m['ram']};{m['os']};"
            f"Python {m['python']},Django {m['django']};{result['db']}。",
            "",
            f"每次运行重建数据库 `crm_bench_pos`(C.UTF-8),建 {MEMBERS:,} 位会员和一个接口客户端;gunicorn 按部署文档运行"
            f"({WORKERS} 个同步工作进程、生产配置,请求带代理头 `X-Forwarded-Proto: https`);"
            f"{load['threads']} 个客户端线程模拟收银台,每次上传一笔消费:"
            "随机会员、新的订单号、新的 `Idempotency-Key`,每个请求一个新 HTTP 连接。"
            f"预热 {WARMUP_SECONDS} 秒后计时 {load['seconds']:.0f} 秒,只数 201 应答;任何其他应答都算错误。每笔上传都写:"
            "幂等键(咨询锁,应答与业务写入在同一事务中保存)、消费记录、积分流水与批次、账户余额(行锁)、审计日志,并检查等级。",
            "",
            "| 项目 | 结果 | 目标 | 结论 |",
            "|---|---:|---:|---|",
            f"| 持续上传消费(笔/秒) | {load['posts_per_s']:,.0f} | ≥ {TARGET_POSTS_S} | {post_mark} |",
            f"| 单笔耗时 中位数 / p95 / 最大 (ms) | {load['p50_ms']:.1f} / {load['p95_ms']:.1f} / "
            f"{load['max_ms']:.1f} | | |",
            f"| 「积分」页签,{LEDGER:,} 条流水(ms,中位数) | {tab['median_ms']:.1f} | < {TARGET_TAB_MS:.0f} | "
            f"{tab_mark} |",
            "",
            f"- 计时期间 {load['ok']:,} 笔 201,错误 {load['errors']} 个;运行结束后数据库中接口来源的消费 "
            f"{result['verify']['consumptions']:,} 笔、获得积分流水 {result['verify']['earn_entries']:,} 条,"
            f"与收到 201 的 {load['answered']:,} 笔{'一致' if result['verify']['ok'] else '**不一致**'};"
            f"`points_reconcile` {'通过' if result['verify']['reconciled'] else '**未通过**'}。",
            f"- 「积分」页签:{OWNER} 打开自己会员的页签(htmx 局部,`{tab['url']}`),{TAB_RUNS} 次的中位数,"
            f"最慢 {tab['max_ms']:.1f} ms,每次 {tab['queries']} 条 SQL;该会员有 {LEDGER:,} 条流水"
            f"(三年间的赠送与兑换,各有批次)。",
            f"- 负载期间的系统负载(1/5/15 分钟):{load['loadavg']}。",
            "",
            f"### 这台机器的上限(同一负载、同一 gunicorn 与中间件,`bench/pos_floor_urls.py`,各计时 {FLOOR_SECONDS} 秒)",
            "",
            "| 端点 | 做什么 | 笔/秒 |",
            "|---|---|---:|",
            f"| `/bench/noop` | 同样的密钥认证(一次查询)和请求体校验,立即应答,不写任何东西:框架本身的上限 | "
            f"{floors['noop']:,.0f} |",
            "| `/bench/thin` | 写入与一笔上传相同的行(幂等键与咨询锁、消费、积分流水与批次、账户余额行锁、审计)"
            "并做等级检查的求和,一个事务五条手写 SQL;不做任何规则与检查:不是实现,只是下限 | "
            f"{floors['thin']:,.0f} |",
            f"| `/api/v1/consumptions` | 本系统(上表) | {load['posts_per_s']:,.0f} |",
            "",
            f"目标 {TARGET_POSTS_S} 笔/秒 要求每笔(含客户端、gunicorn、Django、PostgreSQL)只占这两个核 "
            f"{2000 / TARGET_POSTS_S:.0f} ms。`thin` 一行是不用 ORM、把一笔上传压到五条 SQL 时这台机器的速度"
            f"({floors['thin'] / TARGET_POSTS_S:.0%} 的目标);本系统每笔走服务层的全部规则与检查"
            "(20 条语句:11 条 ORM 查询、1 条手写的幂等锁与查询、8 条事务与保存点),"
            f"是它的 {load['posts_per_s'] / floors['thin']:.0%}。",
        ]
    )


def run(no_doc: bool = False, seconds: int = SECONDS, threads: int = THREADS) -> None:
    started = time.perf_counter()
    VAR.mkdir(parents=True, exist_ok=True)
    fresh_database()
    setup = run_worker("setup")
    server = start_gunicorn()
    try:
        log("postgresql", f"pos: {threads} terminals, {WARMUP_SECONDS} s warm-up, {seconds} s counted…")
        load = Load(setup["key"], setup["cards"], threads)
        elapsed = load.run(WARMUP_SECONDS, seconds)
        average = loadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    latencies = sorted(load.latencies)
    figures = {
        "threads": threads,
        "seconds": elapsed,
        "ok": load.ok,
        "answered": load.answered,
        "errors": len(load.errors),
        "posts_per_s": load.ok / elapsed,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(len(latencies) * 0.95)],
        "max_ms": latencies[-1],
        "loadavg": average,
    }
    log("postgresql", f"pos: {figures['posts_per_s']:,.0f} posts/s, {len(load.errors)} errors {load.errors[:3]}")
    verify = run_worker("verify", "--answered", str(load.answered))
    tab = run_worker("tab", "--customer", str(setup["rich"]))
    log("postgresql", f"pos: 积分 tab {tab['median_ms']} ms ({tab['queries']} queries)")
    floors = measure_floors(setup, threads)
    result = {
        "date": datetime.now().strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "db": setup["db"],
        "load": figures,
        "verify": verify,
        "tab": tab,
        "floors": floors,
    }
    (VAR / "result-pos.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    print(render(result))
    if load.errors or not verify["ok"] or not verify["reconciled"]:
        raise SystemExit("pos: errors under load or the database does not match the answers")
    if no_doc or seconds != SECONDS or threads != THREADS:
        print("docs/performance.md not rewritten (partial run)")
        return
    write_section_in(render(result), SECTION)
    print(f"docs/performance.md updated ({(time.perf_counter() - started) / 60:.1f} min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=["setup", "verify", "tab"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--answered", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--customer", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=SECONDS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    if args.worker == "setup":
        worker_setup(args.out)
    elif args.worker == "verify":
        worker_verify(args.out, args.answered)
    elif args.worker == "tab":
        worker_tab(args.out, args.customer)
    else:
        run(args.no_doc, args.seconds, args.threads)


if __name__ == "__main__":
    main()

__all__ = ["DOC"]
