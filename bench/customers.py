"""``make bench`` (third part): 〖客户跟踪〗 on 1,000,000 formal customers with 10,000,000 follow-ups.

Run by ``bench/run.py`` after the to-do benchmark (``--bench customers`` runs this one alone), or by itself:
``.venv/bin/python bench/customers.py``. For each database (SQLite file var/bench/customers.sqlite3, PostgreSQL
database ``crm_bench_customers``) a worker subprocess migrates, loads the demo organisation, fills
``customers_customer`` with 1,000,000 formal customers of the demo sales staff and ``customers_followup`` with
10,000,000 follow-ups (once, about three minutes per database: later runs reuse the data), then times the
customer list through Django's test client, logged in as a sales rep (张伟), his manager (李明) and the sales
director (王建国): the first page, a deep page (keyset cursor), and the searches by name (2 characters, 3
characters, a rare 3-character name), 4 mobile digits, pinyin initials and a card number. The parent prints
the table and rewrites its own section of docs/performance.md (between ``<!-- bench:customers:start -->`` and
``<!-- bench:customers:end -->``), leaving any other section alone.

Options: ``--db sqlite|postgresql`` (repeatable) to run one database only; ``--runs N``; ``--no-doc``.
Environment: ``BENCH_CUSTOMERS_PG_URL`` (default postgres://postgres@127.0.0.1:5432/crm_bench_customers);
``BENCH_CUSTOMERS_SCALE`` (default 1: a smaller fraction, e.g. 0.01, tries the script out on its own databases
``…_s0.01``; the doc is written only at scale 1).
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

SECTION = "customers"
SCALE = float(os.environ.get("BENCH_CUSTOMERS_SCALE", "1"))
CUSTOMERS = round(1_000_000 * SCALE)
FOLLOWUPS = round(10_000_000 * SCALE)
TARGET_SQLITE_MS = 150.0
SEED = 2016
GENERATOR = 1  # bump when the generated data changes: a database filled by another version is refilled
MARKER = "bench_customers"  # customers_counter row holding GENERATOR once a fill has completed
DATA_START = datetime(2016, 3, 1, tzinfo=UTC)  # the club's first customers
DATA_END = datetime(2026, 11, 1, tzinfo=UTC)  # the generated history ends here (fixed: same data on every run)
SHANGHAI = 8 * 3600
_suffix = "" if SCALE == 1 else f"_s{SCALE:g}"
PG_URL = os.environ.get("BENCH_CUSTOMERS_PG_URL", f"postgres://postgres@127.0.0.1:5432/crm_bench_customers{_suffix}")
DATABASES = {
    "sqlite": f"sqlite:///{VAR / f'customers{_suffix}.sqlite3'}",
    "postgresql": PG_URL,
}
FILL_NOTE = VAR / f"customers{_suffix}-fill-{{db}}.json"  # how long the one-time generation took, for the report

# Who owns the customers: the four reps a fifth each, the two group managers a tenth each.
OWNERS = [("张伟", 0.2), ("刘洋", 0.2), ("杨帆", 0.2), ("张伟(销售二组)", 0.2), ("李明", 0.1), ("周丽", 0.1)]
# Who the list is measured for (login name, label): a rep, his manager, the director.
VIEWERS = [
    ("张伟", "张伟(业务员,仅本人)"),
    ("李明", "李明(销售经理,本人及下属)"),
    ("王建国", "王建国(销售总监,本部门及下级)"),
]
DEEP_SHARE = 0.9  # the deep page starts at this share of the viewer's list
NAME2 = "张伟"  # surname + given name: a token of name_grams
NAME3 = "张志强"  # longer than 2 characters: the name itself
NAME3_RARE = "田雅琴"  # 15 customers in all, fewer than a page in any scope: the page cannot stop early
MOBILE4 = "5678"
INITIALS = "zw"

PAGES = [  # (key, label)
    ("first", "首页(第 1 页)"),
    ("deep", f"深翻页(游标 ?after=…,列表的 {DEEP_SHARE:.0%} 处)"),
    ("name2", f"姓名 2 字(?q={NAME2})"),
    ("name3", f"姓名 3 字(?q={NAME3})"),
    ("rare3", f"姓名 3 字,罕见(?q={NAME3_RARE})"),
    ("mobile4", f"手机号 4 位(?mobile={MOBILE4})"),
    ("initials", f"拼音首字母(?q={INITIALS})"),
    ("card", "会员卡号(完整卡号)"),
]


# ================================================================================================
# Worker: one database, inside Django
# ================================================================================================


def worker(db: str, out: Path, runs: int) -> None:
    started = time.perf_counter()
    prepare(db, "张伟", "customers: ")
    from django.db import connection

    check_trigram(db, connection)
    fill(db)
    info = {
        "db_version": db_version(connection),
        "fill_seconds": round(time.perf_counter() - started, 1),
        "generation": generation_note(db),
        "data": describe_data(),
    }
    log(db, f"customers: ready in {info['fill_seconds']} s; measuring ({WARMUP} warm-ups + {runs} runs per page)…")
    results = measure(db, runs)
    out.write_text(json.dumps({"db": db, "info": info, "results": results}, ensure_ascii=False, indent=2))


def check_trigram(db: str, connection: Any) -> None:
    """pg_trgm indexes Chinese only under a UTF-8 LC_CTYPE: without it every name search is a full scan."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SELECT show_trgm('张伟明'), current_setting('lc_ctype')")
        trigrams, ctype = cur.fetchone()
    assert trigrams, f"show_trgm('张伟明') is empty (LC_CTYPE {ctype}): recreate the database with a UTF-8 LC_CTYPE"
    log(db, f"customers: LC_CTYPE {ctype}, show_trgm('张伟明') = {trigrams}")


# -- data ----------------------------------------------------------------------------------------

HOUR_WEIGHTS = [0.1] * 7 + [0.6, 2, 3, 3, 2.5, 1.5, 2.5, 3, 3, 2.5, 2, 1, 0.6, 0.4, 0.3, 0.2, 0.1]
LUCKY = "恒泰华盛鼎鑫金茂瑞祥宏达永安嘉禾中远新宇汇通国富天成"
COMPANY_KINDS = ["投资", "实业", "贸易", "置业", "科技", "建设", "物流", "餐饮管理", "文化传媒", "资产管理"]
TITLES = ["董事长", "总经理", "副总经理", "总监", "合伙人", "经理", "创始人", "执行董事"]
COMMUNITY_WORDS = "东方锦绣翠湖御景华府金桥世纪星河滨江中央云顶紫园静安香樟"
COMMUNITY_KINDS = ["花园", "苑", "公馆", "华庭"]
PREFERENCES = ["偏好包间", "喜欢安静的位置", "喜欢普洱", "偏爱红酒", "常点粤菜", "不喜欢辣"]
TABOOS = ["忌辣", "不吃海鲜", "不喝酒", "花生过敏", "素食"]
HOBBY_NOTES = ["周末打高尔夫", "收藏字画", "喜欢钓鱼", "常去旅行", "品茶"]
# (method, weight, what was done)
METHODS = [
    ("电话", 0.45, ["电话回访", "电话沟通", "致电确认", "电话邀约"]),
    ("微信", 0.25, ["微信沟通", "微信发送活动资料", "微信问候"]),
    ("到访", 0.12, ["客户到访", "陪同参观会所", "到店面谈"]),
    ("短信", 0.08, ["短信通知", "短信问候"]),
    ("活动", 0.06, ["活动现场交流", "活动后回访"]),
    ("邮件", 0.04, ["邮件发送方案", "邮件确认"]),
]
TOPICS = [
    "会籍续费",
    "储值卡充值",
    "中秋宴请",
    "春节团拜",
    "高尔夫活动",
    "红酒品鉴会",
    "雪茄沙龙",
    "茶艺课程",
    "客房预订",
    "SPA 体验",
    "生日宴",
    "商务宴请",
    "私宴包间",
    "年度答谢会",
    "会员推荐",
]
TAILS = [
    "客户有兴趣,约下周再谈。",
    "客户表示考虑中。",
    "已确认参加。",
    "客户近期出差,月底再联系。",
    "客户满意,提出增加人数。",
    "客户暂无需求。",
    "已转介绍朋友。",
    "询问价格与优惠。",
    "希望安排包间。",
    "未接通,稍后再拨。",
]
RESULTS = ["有意向", "考虑中", "已预约", "已到店", "暂无需求", "未接通", "已成交", ""]
LEVELS = [("A(重点客户)", 0.2), ("B(普通客户)", 0.5), ("C(非优先客户)", 0.3)]
INCOME = [("<50万", 0.1), ("50–100万", 0.25), ("100–300万", 0.35), ("300–1000万", 0.2), (">1000万", 0.1)]

CUSTOMER_COLUMNS = [
    "id",
    "created_at",
    "updated_at",
    "name",
    "gender",
    "mobile",
    "company",
    "title",
    "note",
    "owned_since",
    "last_followup_at",
    "next_followup_on",
    "name_initials",
    "name_pinyin",
    "name_grams",
    "status",
    "birthday",
    "id_number",
    "card_no",
    "address",
    "broker_name",
    "hobby_note",
    "preferences",
    "taboos",
    "sms_consent",
    "sms_consent_at",
    "sms_consent_source",
    "approved_at",
    "department_id",
    "income_band_id",
    "industry_id",
    "level_id",
    "owner_id",
    "registered_by_id",
    "source_id",
]
FOLLOWUP_COLUMNS = ["id", "at", "content", "result", "next_on", "created_at", "author_id", "customer_id", "method_id"]
TABLES = ("customers_customer", "customers_followup")


def stamp(ts: int) -> str:
    """A UTC timestamp as both databases read it: Django's SQLite text, PostgreSQL's input in a UTC session."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def fill(db: str) -> None:
    """Fill customers_customer (CUSTOMERS) and customers_followup (FOLLOWUPS) once; anything else is replaced."""
    from django.db import connection

    from crm.customers.models import Counter, Customer, FollowUp

    have = Customer.objects.count()
    followups = FollowUp.objects.count()
    marker = Counter.objects.filter(name=MARKER).values_list("value", flat=True).first()
    if have == CUSTOMERS and followups == FOLLOWUPS and marker == GENERATOR:
        log(db, f"customers: {have:,} customers, {followups:,} follow-ups: reused")
        refresh_statistics(db)
        return
    log(db, f"customers: {have:,} customers, {followups:,} follow-ups (generator {marker}): generating…")
    t0 = time.perf_counter()
    data = generate()
    log(db, f"customers: follow-up times drawn and sorted ({time.perf_counter() - t0:.0f} s); writing…")
    if connection.vendor == "postgresql":
        load_postgresql(db, data, t0)
    else:
        load_sqlite(db, data, t0)
    Counter.objects.update_or_create(name="card_no", defaults={"value": CUSTOMERS})
    Counter.objects.update_or_create(name=MARKER, defaults={"value": GENERATOR})
    seconds = round(time.perf_counter() - t0)
    log(db, f"customers: loaded in {seconds} s")
    FILL_NOTE.with_name(FILL_NOTE.name.format(db=db)).write_text(
        json.dumps({"seconds": seconds, "at": datetime.now(UTC).isoformat(), **data.timings})
    )


def refresh_statistics(db: str) -> None:
    """ANALYZE the tables again on SQLite when a migration added an index since the fill: SQLite plans with
    sqlite_stat1, and an index without statistics there is judged by guesses. (PostgreSQL's statistics are per
    column: a new index needs none.)"""
    from django.db import connection

    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'index' AND tbl_name IN (%s, %s) "
            "AND name NOT IN (SELECT idx FROM sqlite_stat1 WHERE idx IS NOT NULL)",
            TABLES,
        )
        for (table,) in cur.fetchall():
            log(db, f"customers: {table} has indexes without statistics: ANALYZE {table}")
            cur.execute(f"ANALYZE {table}")


class Generated:
    """The seeded data, generated lazily row by row (the follow-ups' times are drawn up front: the customers
    carry their last follow-up, and follow-up ids grow with time as they do in a real table)."""

    def __init__(self) -> None:
        import random
        from array import array
        from itertools import accumulate

        from crm.accounts.models import User
        from crm.core.datagen import DISTRICTS, People
        from crm.core.models import DictItem

        self.timings: dict[str, float] = {}
        t0 = time.perf_counter()
        self.rng = rng = random.Random(SEED)
        self.people = People(SEED)
        users = {u.username: u for u in User.objects.filter(username__in=[n for n, _ in OWNERS])}
        assert len(users) == len(OWNERS), f"demo users missing: {sorted(set(dict(OWNERS)) - set(users))}"
        self.owner_ids = [users[n].pk for n, _ in OWNERS]
        self.owner_depts = [users[n].department_id for n, _ in OWNERS]
        items: dict[str, dict[str, int]] = {}
        for code, label, pk in DictItem.objects.values_list("dict_type__code", "label", "pk"):
            items.setdefault(code, {})[label] = pk
        sources = items["customer_source"]
        other = [pk for label, pk in sources.items() if label not in ("转介绍", "居间商")]
        # 来源 (domain §6): 转介绍 .35, 居间商 .20, the rest spread over the other sources.
        self.sources = [sources["转介绍"], sources["居间商"], *other]
        self.source_weights = [0.35, 0.20, *[0.45 / len(other)] * len(other)]
        self.broker_source = sources["居间商"]
        self.levels = [items["customer_level"][label] for label, _ in LEVELS]
        self.level_weights = [w for _, w in LEVELS]
        self.incomes = [items["income_band"][label] for label, _ in INCOME]
        self.income_weights = [w for _, w in INCOME]
        self.industries = list(items["industry"].values())
        self.methods = [items["followup_method"][m] for m, _, _ in METHODS]
        self.districts = [d[0] for d in DISTRICTS]
        self.district_weights = [d[2] for d in DISTRICTS]
        self.brokers = [self.people.name() for _ in range(50)]
        self.companies = [
            f"上海{rng.choice(LUCKY)}{rng.choice(LUCKY)}{rng.choice(COMPANY_KINDS)}有限公司" for _ in range(800)
        ]
        self.communities = [
            f"{rng.choice(COMMUNITY_WORDS)}{rng.choice(COMMUNITY_WORDS)}{rng.choice(COMMUNITY_KINDS)}"
            for _ in range(600)
        ]

        # Registration times over ten years, more each year (the club grows), working days and hours weigh
        # more; sorted, so that ids grow with time. Approval follows within hours or days.
        start, end = int(DATA_START.timestamp()), int(DATA_END.timestamp())
        n_days = (end - start) // 86400
        day0 = start - (start + SHANGHAI) % 86400  # local (Asia/Shanghai) midnight
        day_weights = [
            (0.4 + 0.6 * d / n_days)
            * (0.5 if datetime.fromtimestamp(day0 + d * 86400 + 43200, UTC).weekday() >= 5 else 1)
            for d in range(n_days)
        ]
        days = rng.choices(range(n_days), cum_weights=list(accumulate(day_weights)), k=CUSTOMERS)
        hours = rng.choices(range(24), HOUR_WEIGHTS, k=CUSTOMERS)
        self.created = created = sorted(
            min(end - 4 * 86400, day0 + d * 86400 + h * 3600 + rng.randrange(3600))
            for d, h in zip(days, hours, strict=True)
        )
        del days, hours
        self.approved = approved = [c + rng.randrange(3600, 3 * 86400) for c in created]
        self.owners = rng.choices(range(len(OWNERS)), [w for _, w in OWNERS], k=CUSTOMERS)
        self.timings["customers_drawn_s"] = round(time.perf_counter() - t0, 1)

        # Follow-ups: who is followed up how often (some customers far more than others, older ones longer),
        # then when: a working hour of a day between the approval and the end of the data.
        activity = accumulate(rng.expovariate(1.0) * (end - a) for a in approved)
        who = rng.choices(range(CUSTOMERS), cum_weights=list(activity), k=FOLLOWUPS)
        hour_table = [h for h, w in enumerate(HOUR_WEIGHTS) for _ in range(round(w * 10))]
        n_hours = len(hour_table)
        rnd = rng.random
        shift = self.SHIFT
        keys = []
        for i in who:
            a = approved[i]
            t = a + int(rnd() * (end - a))
            t = t - (t + SHANGHAI) % 86400 + hour_table[int(rnd() * n_hours)] * 3600 + int(rnd() * 3600)
            keys.append((max(t, a + 600) << shift) | i)
        del who
        keys.sort()
        self.keys = keys
        mask = (1 << shift) - 1
        last = array("q", bytes(8 * CUSTOMERS))
        for k in keys:
            last[k & mask] = k >> shift
        self.last = last
        self.timings["followups_drawn_s"] = round(time.perf_counter() - t0, 1)

    SHIFT = 21  # a follow-up key is (time << SHIFT) | customer index
    assert CUSTOMERS < 1 << SHIFT

    def customers(self) -> Any:
        """Rows of customers_customer (CUSTOMER_COLUMNS), as text (None for NULL)."""
        from crm.core.textsearch import search_keys

        rng, people = self.rng, self.people
        rnd = rng.random
        keys_cache: dict[str, tuple[str, str, str]] = {}
        day = 86400
        for i, (created, approved, owner, last) in enumerate(
            zip(self.created, self.approved, self.owners, self.last, strict=True)
        ):
            gender = people.gender()
            name = people.name(gender)
            keys = keys_cache.get(name)
            if keys is None:
                k = search_keys(name)
                keys = keys_cache[name] = (k["name_initials"], k["name_pinyin"], k["name_grams"])
            birthday = people.birthday()
            id_number = people.id_number(birthday, gender) if rnd() < 0.9 else ""
            mobile = people.mobile()
            source = rng.choices(self.sources, self.source_weights)[0]
            district = rng.choices(self.districts, self.district_weights)[0]
            address = (
                f"上海市{district}区{rng.choice(self.communities)}{rng.randrange(1, 40)}号{rng.randrange(101, 2802)}室"
            )
            company = rng.choice(self.companies) if rnd() < 0.7 else ""
            title = rng.choice(TITLES) if company else ""
            consent = rnd() < 0.55
            next_on = None
            if last and rnd() < 0.6:
                next_on = time.strftime("%Y-%m-%d", time.gmtime(last + SHANGHAI + rng.randrange(3, 46) * day))
            updated = max(approved, last)
            year = time.gmtime(approved + SHANGHAI).tm_year
            yield (
                str(i + 1),
                stamp(created),
                stamp(updated),
                name,
                gender,
                mobile,
                company,
                title,
                "",
                stamp(approved),
                stamp(last) if last else None,
                next_on,
                *keys,
                "formal",
                birthday.isoformat(),
                id_number,
                f"JSH{year}{i + 1:06d}",
                address,
                rng.choice(self.brokers) if source == self.broker_source else "",
                rng.choice(HOBBY_NOTES) if rnd() < 0.1 else "",
                rng.choice(PREFERENCES) if rnd() < 0.15 else "",
                rng.choice(TABOOS) if rnd() < 0.05 else "",
                "1" if consent else "0",
                stamp(approved) if consent else None,
                "登记表" if consent else "",
                stamp(approved),
                str(self.owner_depts[owner]),
                str(rng.choices(self.incomes, self.income_weights)[0]),
                str(rng.choice(self.industries)),
                str(rng.choices(self.levels, self.level_weights)[0]),
                str(self.owner_ids[owner]),
                str(self.owner_ids[owner]),
                str(source),
            )

    def followups(self) -> Any:
        """Rows of customers_followup (FOLLOWUP_COLUMNS), in time order, as text (None for NULL)."""
        rng = self.rng
        rnd = rng.random
        contents = [
            [f"{what},{topic}:{tail}" for what in whats for topic in TOPICS for tail in TAILS] for *_, whats in METHODS
        ]
        method_table = [m for m, (_, w, _) in enumerate(METHODS) for _ in range(round(w * 100))]
        n_methods = len(method_table)
        method_ids = [str(pk) for pk in self.methods]
        owner_ids = [str(pk) for pk in self.owner_ids]
        owners = self.owners
        n_results = len(RESULTS)
        shift, mask = self.SHIFT, (1 << self.SHIFT) - 1
        for n, k in enumerate(self.keys, 1):
            t, i = k >> shift, k & mask
            m = method_table[int(rnd() * n_methods)]
            pool = contents[m]
            yield (
                str(n),
                stamp(t),
                pool[int(rnd() * len(pool))],
                RESULTS[int(rnd() * n_results)],
                time.strftime("%Y-%m-%d", time.gmtime(t + SHANGHAI + 86400 * (3 + int(rnd() * 28))))
                if rnd() < 0.35
                else None,
                stamp(t + 300),
                owner_ids[owners[i]],
                str(i + 1),
                method_ids[m],
            )


def generate() -> Generated:
    return Generated()


def load_postgresql(db: str, data: Generated, t0: float) -> None:
    """One transaction: empty the tables, drop their secondary indexes, COPY, rebuild the indexes (a bulk
    build is far cheaper than 11M index insertions, GIN above all). Foreign keys are not checked row by row
    (session_replication_role = replica: the generator writes only ids that exist; checked after)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL TIME ZONE 'UTC'")
        cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("TRUNCATE customers_followup, customers_customer CASCADE")
        indexes = []
        for table in TABLES:
            cur.execute(
                "SELECT ci.relname, pg_get_indexdef(ci.oid) FROM pg_index x "
                "JOIN pg_class ci ON ci.oid = x.indexrelid JOIN pg_class ct ON ct.oid = x.indrelid "
                "WHERE ct.relname = %s AND NOT x.indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1",
                [table],
            )
            indexes += cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        for table, columns, rows, what in (
            ("customers_customer", CUSTOMER_COLUMNS, data.customers(), "customers"),
            ("customers_followup", FOLLOWUP_COLUMNS, data.followups(), "follow-ups"),
        ):
            with cur.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                lines = []
                for row in rows:
                    lines.append("\t".join("\\N" if v is None else v for v in row))
                    if len(lines) == 20000:
                        copy.write("\n".join(lines) + "\n")
                        lines.clear()
                if lines:
                    copy.write("\n".join(lines) + "\n")
            data.timings[f"{what}_written_s"] = round(time.perf_counter() - t0, 1)
            log(db, f"customers: {what} copied ({time.perf_counter() - t0:.0f} s)")
        for name, ddl in indexes:
            t1 = time.perf_counter()
            cur.execute(ddl)
            log(db, f"customers: index {name} ({time.perf_counter() - t1:.0f} s)")
        data.timings["indexes_built_s"] = round(time.perf_counter() - t0, 1)
        for table in TABLES:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cur.execute("SET LOCAL session_replication_role = origin")

        def one(sql: str) -> Any:
            cur.execute(sql)
            return cur.fetchone()[0]

        check_references(one)
    log(db, f"customers: committed ({time.perf_counter() - t0:.0f} s); VACUUM ANALYZE…")
    with connection.cursor() as cur:
        for table in TABLES:
            # The steady state autovacuum reaches (visibility map set: index-only scans need no heap visits).
            cur.execute(f"VACUUM (ANALYZE) {table}")
    data.timings["analyzed_s"] = round(time.perf_counter() - t0, 1)


def load_sqlite(db: str, data: Generated, t0: float) -> None:
    """One transaction on a connection of its own (rollback journal instead of WAL for the bulk write): empty
    the tables, drop their secondary indexes, insert, rebuild the indexes; then back to WAL, ANALYZE."""
    import sqlite3

    from django.conf import settings
    from django.db import connection

    path = settings.DATABASES["default"]["NAME"]
    connection.close()
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-400000")
        con.execute("PRAGMA temp_store=MEMORY")
        con.execute("BEGIN IMMEDIATE")
        indexes = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (?, ?) "
            "ORDER BY name",
            TABLES,
        ).fetchall()
        for name, _ in indexes:
            con.execute(f'DROP INDEX "{name}"')
        con.execute("DELETE FROM customers_followup")
        con.execute("DELETE FROM customers_customer")
        for table, columns, rows, what in (
            ("customers_customer", CUSTOMER_COLUMNS, data.customers(), "customers"),
            ("customers_followup", FOLLOWUP_COLUMNS, data.followups(), "follow-ups"),
        ):
            con.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['?'] * len(columns))})", rows
            )
            data.timings[f"{what}_written_s"] = round(time.perf_counter() - t0, 1)
            log(db, f"customers: {what} inserted ({time.perf_counter() - t0:.0f} s)")
        for name, ddl in indexes:
            t1 = time.perf_counter()
            con.execute(ddl)
            log(db, f"customers: index {name} ({time.perf_counter() - t1:.0f} s)")
        data.timings["indexes_built_s"] = round(time.perf_counter() - t0, 1)
        check_references(lambda sql: con.execute(sql).fetchone()[0])
        con.execute("COMMIT")
        con.execute("PRAGMA journal_mode=WAL")
        log(db, f"customers: committed ({time.perf_counter() - t0:.0f} s); ANALYZE…")
        con.execute("ANALYZE")
    finally:
        con.close()
    data.timings["analyzed_s"] = round(time.perf_counter() - t0, 1)


def check_references(one: Any) -> None:
    """Every follow-up's customer and author, every customer's owner exist, and no follow-up predates its
    customer (the bulk load checked no foreign key). ``one(sql)`` returns the single value of a query."""
    checks = {
        "follow-ups without their customer": "SELECT count(*) FROM customers_followup f "
        "LEFT JOIN customers_customer c ON c.id = f.customer_id WHERE c.id IS NULL",
        "follow-ups of a customer before it was approved": "SELECT count(*) FROM customers_followup f "
        "JOIN customers_customer c ON c.id = f.customer_id WHERE f.at < c.approved_at",
        "follow-ups by unknown authors": "SELECT count(*) FROM customers_followup WHERE author_id NOT IN "
        "(SELECT id FROM accounts_user)",
        "customers of unknown owners": "SELECT count(*) FROM customers_customer WHERE owner_id NOT IN "
        "(SELECT id FROM accounts_user)",
    }
    for what, sql in checks.items():
        found = one(sql)
        assert found == 0, f"{found} {what}"


def generation_note(db: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads(FILL_NOTE.with_name(FILL_NOTE.name.format(db=db)).read_text()))
    except (OSError, ValueError):
        return None


def describe_data() -> dict[str, Any]:
    from django.db.models import Count, Min

    from crm.accounts.models import User
    from crm.customers.models import Customer, FollowUp

    names = dict(User.objects.values_list("pk", "username"))
    owners = Customer.objects.order_by().values_list("owner").annotate(n=Count("id"))
    years = Customer.objects.aggregate(first=Min("created_at"))
    return {
        "customers": Customer.objects.count(),
        "formal": Customer.objects.formal().count(),
        "followups": FollowUp.objects.count(),
        "by_owner": {names.get(pk, str(pk)): n for pk, n in owners},
        "distinct_names": Customer.objects.order_by().values("name").distinct().count(),
        "first_created": years["first"].isoformat() if years["first"] else None,
    }


# -- measurement ---------------------------------------------------------------------------------

ROW = re.compile(r'<tr data-href="[^"]*/customers/(\d+)/"')
LIST_COUNT = re.compile(r'data-testid="list-count">\s*([^<]*?)\s*<')


def measure(db: str, runs: int) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection
    from django.db.models import Q
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from crm.accounts.models import User
    from crm.core.lists import encode_cursor
    from crm.customers.models import Customer

    url = reverse("customers:customer_list")
    cap = settings.CRM_LIST_COUNT_CAP
    results: dict[str, Any] = {"viewers": {}, "loadavg_before": loadavg()}
    # The card number searched: a customer of the rep's, from the middle of the data.
    rep = User.objects.get(username=VIEWERS[0][0])
    card = (
        Customer.objects.filter(owner=rep)
        .order_by("-created_at", "-id")
        .values_list("card_no", flat=True)[CUSTOMERS // 10]
    )
    # What each search means, written independently of the search form: the list must show the same rows.
    reference = {
        "name2": ({"q": NAME2}, Q(name__contains=NAME2)),
        "name3": ({"q": NAME3}, Q(name__contains=NAME3)),
        "rare3": ({"q": NAME3_RARE}, Q(name__contains=NAME3_RARE)),
        "mobile4": ({"mobile": MOBILE4}, Q(mobile__contains=MOBILE4)),
        "initials": ({"q": INITIALS}, Q(name_initials__startswith=INITIALS) | Q(name_pinyin__startswith=INITIALS)),
        "card": ({"card_no": card}, Q(card_no=card)),
    }

    def get(client: Any, case: dict[str, Any]) -> tuple[float, Any]:
        t0 = time.perf_counter()
        response = client.get(case["url"])
        return (time.perf_counter() - t0) * 1000, response

    clients = {}
    for username, _label in VIEWERS:
        User.objects.filter(username=username).update(initial_password_set_at=None)
        user = User.objects.get(username=username)
        clients[username] = client = Client()
        client.force_login(user, backend="crm.accounts.backends.RoleBackend")
    # The process's first requests (templates, translations, the menu cache) would otherwise weigh on the first
    # case measured: warm the whole process up once, for every viewer.
    for _ in range(WARMUP):
        for client in clients.values():
            assert client.get(url).status_code == 200

    for username, _label in VIEWERS:
        user = User.objects.get(username=username)
        client = clients[username]
        scoped = Customer.objects.for_user(user).formal()
        ordered = scoped.order_by("-created_at", "-id")
        total = scoped.count()
        deep = int(total * DEEP_SHARE)
        cur_at, cur_id = ordered.values_list("created_at", "id")[deep - 1]
        cases: dict[str, dict[str, Any]] = {
            "first": {"url": url, "expect": ordered.values_list("id", flat=True)[0], "matching": total},
            "deep": {
                "url": f"{url}?{urlencode({'after': encode_cursor([cur_at, cur_id])})}",
                "expect": ordered.values_list("id", flat=True)[deep],
                "position": deep,
            },
        }
        for key, (params, q) in reference.items():
            matching = ordered.filter(q)
            n = matching.count()
            if not n:  # only on a scaled-down try-out: the rare name may be missing
                log(db, f"customers: {username} {key}: no matching customer, skipped")
                continue
            cases[key] = {
                "url": f"{url}?{urlencode(params)}",
                "expect": matching.values_list("id", flat=True).first(),
                "matching": n,
            }
        viewer: dict[str, Any] = {"scope_rows": total, "deep_position": deep, "pages": {}}
        results["viewers"][username] = viewer
        for key, case in cases.items():
            if "matching" in case:
                n = case["matching"]
                case["count"] = (cap, True) if n > cap else (n, False)
            for _ in range(WARMUP):
                check(get(client, case)[1], case)
            times = []
            for _ in range(runs):
                ms, response = get(client, case)
                assert response.status_code == 200, (case["url"], response.status_code)
                times.append(ms)
            # The queries, counted (CaptureQueriesContext) and timed with their parameters (execute_wrapper) on
            # a few more requests: the debug cursor is not in the timed runs.
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
                    response = get(client, case)[1]
                counted.append(len(ctx.captured_queries))
                captures.append(calls)
            shown = check(response, case)
            sql = captures[-1]
            viewer["pages"][key] = result = {
                "url": case["url"],
                "ms": round(statistics.median(times), 1),
                "min_ms": round(min(times), 1),
                "max_ms": round(max(times), 1),
                "queries": counted[-1],
                "sql_ms": round(statistics.median(sum(t for t, *_ in c) for c in captures), 2),
                "slowest_sql_ms": round(statistics.median(max((t for t, *_ in c), default=0.0) for c in captures), 2),
                "matching": case.get("matching"),
                **shown,
                "bytes": len(response.content),
                # Where the time of each query on the customers goes: its median time and its plan.
                "customer_queries": [
                    {
                        "kind": query_kind(q),
                        "ms": round(statistics.median(c[j][0] for c in captures if len(c) > j), 2),
                        "full_ms": full_time(connection, q, params),
                        "sql": q[:1500],
                        "params": [str(p) for p in params or ()],
                        "plan": explain(connection, q, params),
                    }
                    for j, (_, q, params) in enumerate(sql)
                    if "customers_customer" in q
                ],
            }
            log(
                db,
                f"customers: {username:4} {key:8} {result['ms']:8.1f} ms (sql {result['sql_ms']:7.1f}) "
                f"{result['queries']:2} queries {shown}",
            )
    results["loadavg_after"] = loadavg()
    return results


def check(response: Any, case: dict[str, Any]) -> dict[str, Any]:
    """The page answered 200 with rows, the first of which is the row expected, and the count above the list
    is the number of matching rows (capped): the figures are honest."""
    url = case["url"]
    assert response.status_code == 200, (url, response.status_code, response.get("Location"))
    text = response.content.decode()
    ids = [int(i) for i in ROW.findall(text)]
    assert ids, f"no rows on {url}"
    assert ids[0] == case["expect"], f"{url}: first row {ids[0]}, expected {case['expect']}"
    shown: dict[str, Any] = {"rows": len(ids)}
    counted = LIST_COUNT.search(text)
    assert counted, f"no count on {url}"
    shown["count_text"] = counted.group(1)
    if "count" in case:
        found = (int(re.sub(r"\D", "", counted.group(1)) or -1), "+" in counted.group(1))
        assert found == case["count"], f"{url}: {counted.group(1)!r}, expected {case['count']}"
    return shown


def query_kind(sql: str) -> str:
    return "count" if sql.startswith("SELECT COUNT(*) FROM") else "rows"


QUERY_LABELS = {"rows": "取一页(21 行)", "count": "列表条数(上限 10,000)"}


def full_time(connection: Any, sql: str, params: Any, n: int = 3) -> float:
    """The query run alone to its last row (median of ``n``). SQLite's execute() returns at the first row and
    finds the others while they are fetched, so the time of execute() alone undercounts a scan that streams."""
    times = []
    with connection.cursor() as cur:
        for _ in range(n):
            t0 = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def explain(connection: Any, sql: str, params: Any) -> list[str]:
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
    return run_worker_in(db, runs, script=__file__, databases=DATABASES, name=f"result-customers{_suffix}")


def target(db: str) -> float:
    return TARGET_MS if db == "postgresql" else TARGET_SQLITE_MS


def verdict(db: str, ms: float) -> str:
    return "✅" if ms < target(db) else "❌"


def plan_summary(plan: list[str]) -> str:
    """The plan's nodes with their conditions and row counts (and PostgreSQL's execution time), in one cell."""
    keep = []
    for line in plan:
        text = re.sub(r"\s*\(cost=[^)]*\)", "", line.strip().removeprefix("->").strip())
        if text.startswith(("Buffers", "Planning", "Heap Blocks", "Sort Method", "Worker", "Workers")):
            continue
        keep.append(text)
    return "<br>".join(f"`{k}`" for k in keep).replace("|", "\\|")


def render(results: dict[str, dict[str, Any]], machine: dict[str, str], elapsed: float) -> str:
    today = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    versions = {db: r["info"]["db_version"] for db, r in results.items()}
    data = next(iter(results.values()))["info"]["data"]
    generated = ",".join(
        f"{DB_LABELS[db]} {r['info']['generation']['seconds'] / 60:.1f} 分钟"
        for db, r in results.items()
        if r["info"].get("generation")
    )
    owners = "、".join(f"{name} {n:,}" for name, n in sorted(data["by_owner"].items(), key=lambda kv: -kv[1]))
    first = next(iter(results.values()))["results"]
    lines = [
        f"## 客户跟踪 ({CUSTOMERS:,} 个正式客户,{FOLLOWUPS:,} 条跟踪记录)",
        "",
        "由 `make bench`(`bench/customers.py`,经 `bench/run.py` 调用)生成,请勿手工修改本节;重新运行即可更新。",
        "",
        f"- 测试时间:{today}(本节两个数据库合计耗时 {elapsed / 60:.1f} 分钟)",
        f"- 机器:{machine['cpu']},{machine['nproc']} 核(nproc),内存 {machine['ram']};{machine['os']}",
        f"- PostgreSQL {versions.get('postgresql', '—')},SQLite {versions.get('sqlite', '—')},"
        f"Python {machine['python']},Django {machine['django']}",
        "- 测量时的系统负载(/proc/loadavg,1/5/15 分钟;本机同时有其他任务在运行):"
        + ";".join(
            f"{DB_LABELS[db]} 测量前 {r['results']['loadavg_before']},测量后 {r['results']['loadavg_after']}"
            for db, r in results.items()
        )
        + "。",
        "",
        "### 方法",
        "",
        f"- 数据:`customers_customer` {data['customers']:,} 行,全部为正式客户,按领域研究 §6 用 "
        f"`crm.core.datagen.People(seed={SEED})` 生成(姓氏按 2007 年公安部比例加权,75% 男性,手机号唯一,"
        f"身份证号带校验位,{data['distinct_names']:,} 个不同姓名);`name_initials`/`name_pinyin`/`name_grams` "
        "由 `crm.core.textsearch.search_keys` 计算(每个不同姓名算一次);会员卡号 `JSH{年}{序号}`,唯一;"
        f"登记时间 {DATA_START:%Y-%m} 至 {DATA_END:%Y-%m},逐年增多,工作日、工作时间更密集,id 随时间增长。"
        f"负责人为演示组织的销售人员:{owners}(四名业务员各约 1/5,两名销售经理各约 1/10),部门随负责人。"
        f"`customers_followup` {data['followups']:,} 行,都属于客户(`customer` 非空),每个客户的跟踪次数"
        "不等(活跃度按指数分布,且与成为客户的时长成正比),时间在成为正式客户之后、工作时间为主,id 随时间增长;"
        "客户的「最近跟踪」「下次跟踪」与跟踪记录一致。PostgreSQL 用 COPY 写入,SQLite 在一个事务内 executemany "
        "写入;写入前删去两表的二级索引、写入后重建(同一事务内),再 VACUUM ANALYZE / ANALYZE"
        + (f"(生成数据用时:{generated})" if generated else "")
        + "。数据只生成一次(固定随机种子与截止日期,两个数据库内容相同),以后的运行直接复用;使用独立的数据库"
        "(PostgreSQL `crm_bench_customers`,LC_CTYPE C.UTF-8,`show_trgm('张伟明')` 非空;"
        "SQLite `var/bench/customers.sqlite3`)。",
        "- 以三个演示账号分别登录(`force_login`),请求〖客户跟踪〗(`CustomerListView`,完整页面):"
        + ";".join(f"{label} 可见 {first['viewers'][u]['scope_rows']:,} 个客户" for u, label in VIEWERS)
        + f"。测量前先让进程预热(每个用户的首页各 {WARMUP} 次);每个页面再预热 {WARMUP} 次,取 {RUNS} 次的中位数,"
        "计时为服务器端处理整个请求的时间"
        "(中间件、查询、模板渲染)。查询数用 `CaptureQueriesContext`、每条查询的耗时(含驱动往返)用 "
        f"`connection.execute_wrapper` 在计时之后另外请求 {SQL_RUNS} 次统计,取中位数。",
        "- 每次请求都检查:返回 200、第一行正是按 (-created_at, -id) 排序应出现的那一行(搜索的期望结果用与搜索表单"
        "无关的写法算出:姓名 `name__contains`,手机号 `mobile__contains`,拼音为首字母或全拼前缀),"
        "列表上方的条数与命中行数一致(上限 10,000,显示「10,000+」)。",
        f"- 深翻页:「下一页」按钮的游标(`?after=…`)直接跳到该用户列表的 {DEEP_SHARE:.0%} 处。"
        f"搜索:姓名 2 字「{NAME2}」(匹配 `name_grams` 中的二字词),姓名 3 字「{NAME3}」(匹配姓名本身),"
        f"罕见的 3 字姓名「{NAME3_RARE}」(全表 15 人,任何用户的范围内都不满一页,取一页的查询无法提前结束),"
        f"手机号中连续 4 位「{MOBILE4}」,拼音首字母「{INITIALS}」,完整会员卡号(业务员名下的一个客户)。",
        "",
        "### 结果",
        "",
        f"目标:PostgreSQL 上每个页面 {TARGET_MS:.0f} ms 以内,SQLite 上 {TARGET_SQLITE_MS:.0f} ms 以内。"
        "「命中」为该用户数据范围内符合条件的客户数;「SQL」为该页全部查询的耗时之和(`execute()` 的耗时),"
        "其余时间花在 Python(中间件、视图、模板渲染)上。SQLite 的 `execute()` 在取到第一行时即返回,"
        "边取结果边扫描的查询(如罕见姓名的「取一页」)其余耗时计入 Python 一侧,故 SQLite 的「SQL」可能偏小。",
        "",
        "| 页面 | 登录用户 | 命中 | PostgreSQL ms(SQL) | SQLite ms(SQL) | 达标 PG / SQLite |",
        "|---|---|---:|---:|---:|:---:|",
    ]
    for key, label in PAGES:
        for username, who in VIEWERS:
            cells = {}
            matching = None
            for db in DATABASES:
                p = results[db]["results"]["viewers"][username]["pages"].get(key) if db in results else None
                if p:
                    cells[db] = p
                    matching = p.get("matching") if p.get("matching") is not None else matching
            if key == "deep":
                pos = next(iter(results.values()))["results"]["viewers"][username]["deep_position"]
                hits = f"第 {pos + 1:,} 行起"
            else:
                hits = f"{matching:,}" if matching is not None else "—"

            def cell(db: str, cells: dict[str, Any] = cells) -> str:
                p = cells.get(db)
                return f"{p['ms']:.1f}({p['sql_ms']:.1f})" if p else "—"

            marks = " / ".join(verdict(db, cells[db]["ms"]) if db in cells else "—" for db in ("postgresql", "sqlite"))
            lines.append(f"| {label} | {who} | {hits} | {cell('postgresql')} | {cell('sqlite')} | {marks} |")
    slow = []
    for db in DATABASES:
        if db not in results:
            continue
        for username, who in VIEWERS:
            for key, label in PAGES:
                p = results[db]["results"]["viewers"][username]["pages"].get(key)
                if not p or p["ms"] < target(db) * 0.8:
                    continue
                for q in p["customer_queries"]:
                    if q["full_ms"] >= 5:
                        slow.append(
                            f"| {label} | {who} | {DB_LABELS[db]} | {QUERY_LABELS[q['kind']]} | {q['full_ms']:.1f} | "
                            f"{plan_summary(q['plan'])} |"
                        )
    if slow:
        lines += [
            "",
            "未达标或接近目标(≥ 目标的 80%)的页面中,读客户表耗时 ≥ 5 ms 的查询及其执行计划"
            "(耗时为该查询以页面实际绑定的参数单独执行并取完全部结果的中位数;执行计划 PostgreSQL 为 "
            "EXPLAIN (ANALYZE, BUFFERS),SQLite 为 EXPLAIN QUERY PLAN):",
            "",
            "| 页面 | 登录用户 | 数据库 | 查询 | 耗时 (ms) | 执行计划 |",
            "|---|---|---|---|---:|---|",
            *slow,
        ]
    lines += [
        "",
        "原始数据(含每页的 URL、最小/最大耗时,以及每条读客户表的查询的 SQL、参数与完整执行计划)在 "
        "`var/bench/result-customers-*.json`。",
        "",
    ]
    return "\n".join(lines)


def write_section(body: str) -> None:
    write_section_in(body, SECTION)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print()
    print(f"{'customers page':15} {'viewer':8} {'database':11} {'ms':>8} {'min':>7} {'max':>7} {'sql ms':>8}  target")
    for key, _label in PAGES:
        for username, _who in VIEWERS:
            for db in DATABASES:
                p = results[db]["results"]["viewers"][username]["pages"].get(key) if db in results else None
                if p:
                    print(
                        f"{key:15} {username:8} {DB_LABELS[db]:11} {p['ms']:8.1f} {p['min_ms']:7.1f} "
                        f"{p['max_ms']:7.1f} {p['sql_ms']:8.1f}  {verdict(db, p['ms'])}"
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
            ensure_pg_database(DATABASES[db], locale="C.UTF-8")
        results[db] = run_worker(db, runs)
    elapsed = time.perf_counter() - started
    print_table(results)
    if no_doc or set(selected) != set(DATABASES) or runs != RUNS or SCALE != 1:
        print("docs/performance.md not rewritten for the customer benchmark (partial run)")
        return
    write_section(render(results, machine_info(), elapsed))
    print(f"docs/performance.md updated: customer section ({elapsed / 60:.1f} min)")


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
