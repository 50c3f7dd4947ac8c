"""``make bench`` (fourth part): 【导入】 of 100,000 customers from an .xlsx, against django-import-export.

Run by ``bench/run.py`` after the customer benchmark (``--bench imports`` runs this one alone), or by itself:
``.venv/bin/python bench/imports.py``. The file — the columns of our import template, 100,000 customers from
``crm.core.datagen.People``, unique mobiles and ID numbers, every row importable — is generated once and cached
in var/bench/ (with its 10,000-row prefix). For each database the parent drops and recreates the bench database
(PostgreSQL ``crm_bench_imports``, C.UTF-8; SQLite var/bench/imports.sqlite3), then a worker subprocess migrates
it, loads the demo organisation and, as the sales director 王建国, times:

- our import (``crm.customers.imports``): ``preview`` (the dry run: read and check every row, store the upload)
  and ``commit`` (read the stored file again, check again, write the good rows in one transaction), each from
  the file's bytes; on the whole file and on its 10,000-row prefix;
- django-import-export (a ``ModelResource`` for Customer declared here, not installed in the project) on the
  10,000-row prefix: ``tablib.Dataset().load(bytes, format="xlsx")`` then ``import_data(dry_run=True)`` and
  ``import_data(dry_run=False, use_transactions=True)``.

Every repetition starts from an empty customer table (TRUNCATE … CASCADE on PostgreSQL, DELETE on SQLite); after
each import the worker checks the table holds exactly the rows reported imported, with their search keys.
The phases of our import (read the xlsx, check the rows, write) are timed by wrapping the functions of
``crm.core.imports`` / ``crm.customers.imports`` in the worker (the application code is not changed).
The parent prints the table and rewrites its own section of docs/performance.md (between
``<!-- bench:imports:start -->`` and ``<!-- bench:imports:end -->``), leaving any other section alone.

Options: ``--db sqlite|postgresql`` (repeatable) to run one database only; ``--runs N`` repetitions (default
5 for our import, 3 for django-import-export); ``--no-doc``.
Environment: ``BENCH_IMPORTS_PG_URL`` (default postgres://postgres@127.0.0.1:5432/crm_bench_imports);
``BENCH_IMPORTS_ROWS`` (default 100000: fewer rows try the script out on databases of their own; the doc is
written only at 100,000).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# bench/ is on sys.path whether this file runs as a script or is imported by bench/run.py.
from run import DB_LABELS, ROOT, VAR, db_version, ensure_pg_database, loadavg, log, machine_info, prepare
from run import run_worker as run_worker_in
from run import write_section as write_section_in

SECTION = "imports"
FULL_ROWS = 100_000
ROWS = int(os.environ.get("BENCH_IMPORTS_ROWS", str(FULL_ROWS)))
PREFIX_ROWS = min(10_000, ROWS)  # django-import-export's file (and ours again, for a like-for-like comparison)
REPEATS = 5  # our import: preview + commit per repetition
IE_REPEATS = 3  # django-import-export: dry run + import per repetition
TARGET_ROWS_S = 20_000  # PostgreSQL, a complete import (commit)
SEED = 2016
GENERATOR = 2  # bump when the generated file changes: a cached file of another version is regenerated
ACTOR = "王建国"  # 销售总监: may import customers, owners anywhere in 销售部 and its groups
# The owners named in the file (login names), with their shares. (张伟 of 销售一组 is left out: the file was
# first generated while his login name was refused as ambiguous; the probe below records what is said now.)
OWNERS = [("刘洋", 0.25), ("杨帆", 0.25), ("张伟(销售二组)", 0.25), ("李明", 0.125), ("周丽", 0.125)]
AMBIGUOUS_OWNER = "张伟"
_suffix = "" if ROWS == FULL_ROWS else f"_r{ROWS}"
PG_URL = os.environ.get("BENCH_IMPORTS_PG_URL", f"postgres://postgres@127.0.0.1:5432/crm_bench_imports{_suffix}")
DATABASES = {
    "sqlite": f"sqlite:///{VAR / f'imports{_suffix}.sqlite3'}",
    "postgresql": PG_URL,
}


def xlsx_path(rows: int) -> Path:
    return VAR / f"imports-customers-{rows}-g{GENERATOR}.xlsx"


# ================================================================================================
# The file
# ================================================================================================

LUCKY = "恒泰华盛鼎鑫金茂瑞祥宏达永安嘉禾中远新宇汇通国富天成"
COMPANY_KINDS = ["投资", "实业", "贸易", "置业", "科技", "建设", "物流", "餐饮管理", "文化传媒", "资产管理"]
TITLES = ["董事长", "总经理", "副总经理", "总监", "合伙人", "经理", "创始人", "执行董事"]
COMMUNITY_WORDS = "东方锦绣翠湖御景华府金桥世纪星河滨江中央云顶紫园静安香樟"
COMMUNITY_KINDS = ["花园", "苑", "公馆", "华庭"]
NOTES = ["老会员介绍", "偏好包间", "周末打高尔夫", "喜欢普洱", "年会客户", "需回访"]
LEVELS = [("A(重点客户)", 0.2), ("B(普通客户)", 0.5), ("C(非优先客户)", 0.3)]
INCOME = [("<50万", 0.1), ("50–100万", 0.25), ("100–300万", 0.35), ("300–1000万", 0.2), (">1000万", 0.1)]


def generate_rows(n: int) -> list[dict[str, str]]:
    """``n`` customers as the cells of our template (column key → text), seeded: the same file every time.
    Mobiles are unique (``People.mobile``), ID numbers too (drawn again on a collision), so every row imports."""
    import random

    from crm.accounts.demo import DICTIONARIES
    from crm.core.datagen import DISTRICTS, People

    labels = {code: items for (code, _name), items in DICTIONARIES.items()}
    rng = random.Random(SEED)
    people = People(SEED)
    sources = labels["customer_source"]
    other = [s for s in sources if s not in ("转介绍", "居间商")]
    source_choices = ["转介绍", "居间商", *other]
    source_weights = [0.35, 0.20, *[0.45 / len(other)] * len(other)]
    brokers = [people.name() for _ in range(50)]
    companies = [f"上海{rng.choice(LUCKY)}{rng.choice(LUCKY)}{rng.choice(COMPANY_KINDS)}有限公司" for _ in range(800)]
    communities = [
        f"{rng.choice(COMMUNITY_WORDS)}{rng.choice(COMMUNITY_WORDS)}{rng.choice(COMMUNITY_KINDS)}" for _ in range(600)
    ]
    districts = [d[0] for d in DISTRICTS]
    district_weights = [d[2] for d in DISTRICTS]
    owners = rng.choices([o for o, _ in OWNERS], [w for _, w in OWNERS], k=n)
    ids: set[str] = set()
    rows = []
    for i in range(n):
        gender = people.gender()
        birthday = people.birthday()
        id_number = people.id_number(birthday, gender)
        while id_number in ids:
            id_number = people.id_number(birthday, gender)
        ids.add(id_number)
        company = rng.choice(companies) if rng.random() < 0.7 else ""
        source = rng.choices(source_choices, source_weights)[0]
        district = rng.choices(districts, district_weights)[0]
        rows.append(
            {
                "name": people.name(gender),
                "gender": "男" if gender == "M" else "女",
                "birthday": birthday.isoformat(),
                "mobile": people.mobile(),
                "id_number": id_number,
                "card_no": "",  # generated by the import (JSH{year}{seq})
                "level": rng.choices([x for x, _ in LEVELS], [w for _, w in LEVELS])[0] if rng.random() < 0.8 else "",
                "company": company,
                "title": rng.choice(TITLES) if company else "",
                "industry": rng.choice(labels["industry"]) if rng.random() < 0.8 else "",
                "income_band": rng.choices([x for x, _ in INCOME], [w for _, w in INCOME])[0]
                if rng.random() < 0.8
                else "",
                "address": f"上海市{district}区{rng.choice(communities)}"
                f"{rng.randrange(1, 40)}号{rng.randrange(101, 2802)}室",
                "source": source,
                "broker_name": rng.choice(brokers) if source == "居间商" else "",
                "owner": owners[i],
                "sms_consent": "是" if rng.random() < 0.55 else "否",
                "note": rng.choice(NOTES) if rng.random() < 0.1 else "",
            }
        )
    return rows


def write_xlsx(path: Path, rows: list[dict[str, str]]) -> None:
    """The rows under our template's header (every cell text, as the template's columns are), atomically. The
    strings go to a shared-strings table, as Excel saves them (xlsxwriter's constant_memory would write them
    inline: a larger file, read a little faster)."""
    import xlsxwriter

    from crm.customers.imports import CUSTOMER_COLUMNS

    tmp = path.with_suffix(".tmp")
    book = xlsxwriter.Workbook(str(tmp))
    sheet = book.add_worksheet("客户")
    text = book.add_format({"num_format": "@"})
    for c, col in enumerate(CUSTOMER_COLUMNS):
        sheet.set_column(c, c, 16, text)
        sheet.write_string(0, c, col.label)
    for r, row in enumerate(rows, start=1):
        for c, col in enumerate(CUSTOMER_COLUMNS):
            value = row[col.key]
            if value:
                sheet.write_string(r, c, value)
    book.close()
    tmp.replace(path)


def ensure_files(db: str) -> dict[str, Any]:
    """The cached files (generated once), and what is in them."""
    full, prefix = xlsx_path(ROWS), xlsx_path(PREFIX_ROWS)
    note = full.with_suffix(".json")
    if not (full.exists() and prefix.exists() and note.exists()):
        log(db, f"imports: generating {ROWS:,} customers → {full.name}…")
        t0 = time.perf_counter()
        rows = generate_rows(ROWS)
        generated = time.perf_counter() - t0
        write_xlsx(full, rows)
        if prefix != full:
            write_xlsx(prefix, rows[:PREFIX_ROWS])
        facts = {
            "rows": ROWS,
            "generate_s": round(generated, 1),
            "write_s": round(time.perf_counter() - t0 - generated, 1),
            "distinct_mobiles": len({r["mobile"] for r in rows}),
            "distinct_id_numbers": len({r["id_number"] for r in rows}),
            "distinct_names": len({r["name"] for r in rows}),
            "owners": dict(Tally(r["owner"] for r in rows)),
            "owners_prefix": dict(Tally(r["owner"] for r in rows[:PREFIX_ROWS])),
            "mobiles_prefix": [r["mobile"] for r in rows[:PREFIX_ROWS]],
        }
        facts["mobiles_sum"] = sum(int(r["mobile"]) for r in rows)
        assert facts["distinct_mobiles"] == facts["distinct_id_numbers"] == ROWS, "mobiles or ID numbers repeat"
        note.write_text(json.dumps(facts, ensure_ascii=False))
        log(db, f"imports: file written ({time.perf_counter() - t0:.0f} s)")
    facts = json.loads(note.read_text())
    facts["bytes"] = full.stat().st_size
    facts["prefix_bytes"] = prefix.stat().st_size
    return facts


# ================================================================================================
# Worker: one database, inside Django
# ================================================================================================


def worker(db: str, out: Path, runs: int | None) -> None:
    started = time.perf_counter()
    actor = prepare(db, ACTOR, "imports: ")
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    facts = ensure_files(db)
    info = {
        "db_version": db_version(connection),
        "prepare_seconds": round(time.perf_counter() - started, 1),
        "file": {k: v for k, v in facts.items() if k != "mobiles_prefix"},
        "customers_migration": MigrationRecorder.Migration.objects.filter(app="customers")
        .order_by("-id")
        .values_list("name", flat=True)
        .first(),
        "import_export": ie_version(),
    }
    results = measure(db, actor, facts, runs)
    out.write_text(json.dumps({"db": db, "info": info, "results": results}, ensure_ascii=False, indent=2))


def ie_version() -> str:
    import import_export
    import tablib

    return f"django-import-export {import_export.__version__}, tablib {tablib.__version__}"


# -- helpers -------------------------------------------------------------------------------------


def empty_customers() -> None:
    """No customer left (and no import batch): the next import starts from an empty table."""
    from django.db import connection

    from crm.core.models import ImportBatch

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("TRUNCATE customers_customer CASCADE")
        else:
            cur.execute("DELETE FROM customers_customer")
    ImportBatch.objects.all().delete()


def verify(expected: int, owners: dict[str, int], batch: Any = None, mobiles: list[str] | None = None) -> None:
    """The table holds exactly the rows reported imported, owned as the file says, with their search keys."""
    from django.db.models import Count, Q

    from crm.core.textsearch import search_keys
    from crm.customers.models import Customer, CustomerStatus

    total = Customer.objects.count()
    assert total == expected, f"{total} customers in the table, {expected} reported imported"
    if batch is not None:
        assert Customer.objects.filter(import_batch=batch).count() == expected
        assert not Customer.objects.filter(card_no__isnull=True).exists(), "customers without a card number"
    missing = Customer.objects.filter(Q(name_initials="") | Q(name_pinyin="") | Q(name_grams="")).count()
    assert missing == 0, f"{missing} customers without search keys"
    for name, initials, pinyin, grams in Customer.objects.order_by("?").values_list(
        "name", "name_initials", "name_pinyin", "name_grams"
    )[:200]:
        assert search_keys(name) == {"name_initials": initials, "name_pinyin": pinyin, "name_grams": grams}, name
    assert not Customer.objects.exclude(status=CustomerStatus.FORMAL).exists(), "customers not formal"
    assert not Customer.objects.filter(Q(department__isnull=True) | Q(registered_by__isnull=True)).exists()
    found = dict(Customer.objects.order_by().values_list("owner__username").annotate(n=Count("id")))
    assert found == owners, f"owners {found}, file {owners}"
    if mobiles is not None:
        assert sorted(Customer.objects.values_list("mobile", flat=True)) == sorted(mobiles), "mobiles differ"


class Phases:
    """Cumulative time spent in functions of the import, measured by wrapping them (module attributes are
    swapped for the duration, then restored)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def wrapped(self) -> Iterator[Phases]:
        from crm.core import imports as core
        from crm.customers import imports as ours

        targets = [
            (core, "_open_workbook", "open_workbook"),
            (core, "_read_sheet", "read_sheet"),
            (core, "_clean_rows", "clean_rows"),
            (ours, "read_table", "read_table"),  # the preview's
            (core, "read_table", "read_table"),  # the commit's (``reread_for_commit``)
            (ours.Checker, "check", "check"),
            (ours.Checker, "_row", "check_rows"),
            (ours, "_existing", "check_existing"),
            (ours, "_write", "write"),
            (ours, "search_keys", "search_keys"),
        ]
        saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in targets]
        for owner, attr, key in targets:
            setattr(owner, attr, self._timer(getattr(owner, attr), key))
        try:
            yield self
        finally:
            for owner, attr, original in saved:
                setattr(owner, attr, original)

    def _timer(self, fn: Callable[..., Any], key: str) -> Callable[..., Any]:
        seconds = self.seconds
        perf = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = perf()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[key] = seconds.get(key, 0.0) + perf() - t0

        return timed


def phase_split(total: float, s: dict[str, float]) -> dict[str, float]:
    """The wall time of one preview or commit, split into exclusive parts."""
    g = s.get
    return {
        "read_xlsx": g("open_workbook", 0.0) + g("read_sheet", 0.0),  # calamine: unzip, parse the sheet into lists
        "read_clean": g("clean_rows", 0.0),  # clean_cell on every cell
        "read_header": (  # size/zip checks, find the header, rows to dicts, totals rows
            g("read_table", 0.0) - g("open_workbook", 0.0) - g("read_sheet", 0.0) - g("clean_rows", 0.0)
        ),
        "check_rows": g("check_rows", 0.0),  # Checker._row: formats, dictionaries, owners, per row
        "check_existing": g("check_existing", 0.0),  # the database: mobiles/ID numbers/cards already held
        "check_dedupe": g("check", 0.0) - g("check_rows", 0.0) - g("check_existing", 0.0),  # within the file
        "write_keys": g("search_keys", 0.0),  # the search keys of each name (pinyin)
        "write_rows": g("write", 0.0) - g("search_keys", 0.0),  # COPY / bulk_create, card numbers
        "other": total - g("read_table", 0.0) - g("check", 0.0) - g("write", 0.0),  # batch, audit, transaction
    }


def summary(seconds: list[float], rows: int) -> dict[str, Any]:
    median = statistics.median(seconds)
    return {
        "s": round(median, 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "runs": [round(s, 3) for s in seconds],
        "rows": rows,
        "rows_per_s": round(rows / median),
    }


def median_phases(samples: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(s[k] for s in samples), 3) for k in samples[0]}


# -- our import ----------------------------------------------------------------------------------


def time_ours(
    db: str, actor: Any, path: Path, rows: int, owners: dict[str, int], runs: int, mobiles: list[str] | None
) -> dict[str, Any]:
    from crm.customers import imports

    data = path.read_bytes()
    kind = imports.KINDS["customer"]
    previews, commits, together = [], [], []
    preview_phases, commit_phases = [], []
    loads = []
    for i in range(runs):
        empty_customers()
        gc.collect()
        loads.append(loadavg())
        phases = Phases()
        with phases.wrapped():
            t0 = time.perf_counter()
            batch = imports.preview(actor=actor, kind=kind, data=data, filename=path.name)
            t1 = time.perf_counter()
        assert (batch.total, batch.imported, batch.skipped) == (rows, rows, 0), (
            f"preview: {batch.total} rows, {batch.imported} good, {batch.skipped} skipped: {batch.problems[:3]}"
        )
        verify(0, {})
        preview_phases.append(phase_split(t1 - t0, phases.seconds))
        gc.collect()
        phases = Phases()
        with phases.wrapped():
            t2 = time.perf_counter()
            batch = imports.commit(actor=actor, batch=batch)
            t3 = time.perf_counter()
        assert (batch.total, batch.imported, batch.skipped) == (rows, rows, 0), (
            f"commit: {batch.total} rows, {batch.imported} imported, {batch.skipped} skipped: {batch.problems[:3]}"
        )
        commit_phases.append(phase_split(t3 - t2, phases.seconds))
        verify(batch.imported, owners, batch, mobiles if i == 0 else None)
        previews.append(t1 - t0)
        commits.append(t3 - t2)
        together.append(t1 - t0 + t3 - t2)
        log(
            db,
            f"imports: ours {rows:>7,} rows #{i + 1}: preview {t1 - t0:6.2f} s, commit {t3 - t2:6.2f} s "
            f"({rows / (t3 - t2):,.0f} rows/s), together {rows / (t3 - t0 - (t2 - t1)):,.0f} rows/s "
            f"[load {loads[-1]}]",
        )
    # Storing the upload (the ImportBatch row with the file's bytes) is part of the preview; its share:
    from crm.core.models import ImportBatch

    t0 = time.perf_counter()
    ImportBatch.objects.create(kind=kind.key, filename=path.name, created_by=actor, data=data)
    upload = time.perf_counter() - t0
    empty_customers()
    return {
        "preview": summary(previews, rows),
        "commit": summary(commits, rows),
        "together": summary(together, rows),
        "preview_phases": median_phases(preview_phases),
        "commit_phases": median_phases(commit_phases),
        "store_upload_s": round(upload, 3),
        "loadavg": loads,
    }


def diagnose(db: str, actor: Any, path: Path, rows: int) -> dict[str, Any]:
    """Where the write goes (one untimed commit per variant, each in an outer transaction rolled back after):
    as it is; on PostgreSQL the deferred foreign-key checks (run by ``SET CONSTRAINTS ALL IMMEDIATE`` before
    the COMMIT would run them), then without the trigram (GIN) indexes, then without any secondary index; on
    SQLite without the full-text triggers, then without them and the secondary indexes."""
    from django.db import connection, transaction

    from crm.customers import imports
    from crm.customers.models import Customer

    data = path.read_bytes()
    kind = imports.KINDS["customer"]
    pg = connection.vendor == "postgresql"

    def drops(cur: Any, variant: str) -> list[str]:
        out = []
        if pg:
            cur.execute(
                "SELECT ci.relname, am.amname FROM pg_index x JOIN pg_class ci ON ci.oid = x.indexrelid "
                "JOIN pg_class ct ON ct.oid = x.indrelid JOIN pg_am am ON am.oid = ci.relam "
                "WHERE ct.relname = 'customers_customer' AND NOT x.indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1"
            )
            out = [f'DROP INDEX "{n}"' for n, am in cur.fetchall() if variant == "no_indexes" or am == "gin"]
            return out if variant != "as_is" else []
        if variant == "as_is":
            return []
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'customers_customer'")
        out = [f'DROP TRIGGER "{n}"' for (n,) in cur.fetchall()]
        if variant == "no_indexes":
            cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name = 'customers_customer'"
            )
            out += [f'DROP INDEX "{n}"' for (n,) in cur.fetchall()]
        return out

    variants = ["as_is", "no_gin" if pg else "no_triggers", "no_indexes"]
    results: dict[str, Any] = {}
    rows_text, batch_id = b"", 0  # PostgreSQL: the rows the as_is commit wrote (COPY text), for the server floor
    for variant in variants:
        empty_customers()
        batch = imports.preview(actor=actor, kind=kind, data=data, filename=path.name)
        gc.collect()
        phases = Phases()
        with transaction.atomic():
            with connection.cursor() as cur:
                dropped = drops(cur, variant)
                for statement in dropped:
                    cur.execute(statement)
            with phases.wrapped():
                t0 = time.perf_counter()
                imports.commit(actor=actor, batch=batch)
                t1 = time.perf_counter()
            fk = None
            if pg:
                with connection.cursor() as cur:
                    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                fk = time.perf_counter() - t1
                if variant == "as_is":
                    batch_id = batch.pk
                    with connection.cursor() as cur, cur.cursor.copy("COPY customers_customer TO STDOUT") as copy:
                        rows_text = b"".join(bytes(chunk) for chunk in copy)
            assert Customer.objects.count() == rows
            transaction.set_rollback(True)
        results[variant] = {
            "dropped": len(dropped),
            "commit_s": round(t1 - t0, 3),
            "write_s": round(phases.seconds["write"], 3),
            "search_keys_s": round(phases.seconds.get("search_keys", 0.0), 3),
            "fk_checks_s": round(fk, 3) if fk is not None else None,
        }
        log(db, f"imports: diagnosis {variant:11} {results[variant]}")
    if pg:
        results["server_floor"] = server_floor(actor, rows, rows_text, batch_id)
        log(db, f"imports: diagnosis server_floor {results['server_floor']}")
    empty_customers()
    return results


def server_floor(actor: Any, rows: int, rows_text: bytes, batch_id: int) -> dict[str, Any]:
    """PostgreSQL's own share of an import, with no Python at all: the rows exactly as the import wrote them
    (COPY text, every column, ids included) sent again by one ``COPY … FROM STDIN`` into the emptied table with
    all its indexes, then the deferred foreign-key checks; rolled back. No import of these rows, however fast
    its reading and checking, can take less than this on this schema (median of three)."""
    from django.db import connection, transaction

    from crm.core.models import ImportBatch
    from crm.customers.models import Customer

    copies, checks = [], []
    for _ in range(3):
        empty_customers()
        gc.collect()
        with transaction.atomic():
            ImportBatch.objects.create(id=batch_id, kind="customer", filename="floor", created_by=actor)
            with connection.cursor() as cur:
                t0 = time.perf_counter()
                with cur.cursor.copy("COPY customers_customer FROM STDIN") as copy:
                    for i in range(0, len(rows_text), 1 << 20):
                        copy.write(rows_text[i : i + (1 << 20)])
                t1 = time.perf_counter()
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                t2 = time.perf_counter()
            assert Customer.objects.count() == rows
            transaction.set_rollback(True)
        copies.append(t1 - t0)
        checks.append(t2 - t1)
    copy_s, fk_s = statistics.median(copies), statistics.median(checks)
    return {
        "copy_s": round(copy_s, 3),
        "fk_checks_s": round(fk_s, 3),
        "total_s": round(copy_s + fk_s, 3),
        "rows_per_s": round(rows / (copy_s + fk_s)),
    }


# -- django-import-export ------------------------------------------------------------------------


def customer_resource(actor: Any) -> Any:
    """A ModelResource for Customer with the same columns as our template, headers mapped to fields, as a
    project would write it; what the file does not carry (registrar, department, status, dates) is set in
    before_save_instance so that the rows are formal customers like those of our import."""
    from django.utils import timezone
    from import_export import fields, resources, widgets

    from crm.accounts.models import User
    from crm.core.models import DictItem
    from crm.customers.models import Customer, CustomerStatus

    class DictWidget(widgets.ForeignKeyWidget):
        """A dictionary item by its label, within one dictionary (labels repeat across dictionaries)."""

        def __init__(self, code: str) -> None:
            super().__init__(DictItem, "label")
            self.code = code

        def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> Any:
            return DictItem.objects.filter(dict_type__code=self.code, is_active=True)

    class MapWidget(widgets.Widget):
        def __init__(self, mapping: dict[str, Any]) -> None:
            super().__init__()
            self.mapping = mapping

        def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
            text = str(value or "").strip()
            if text not in self.mapping:
                raise ValueError(f"「{text}」 is not one of {', '.join(self.mapping)}")
            return self.mapping[text]

    def field(attribute: str, label: str, widget: Any = None) -> Any:
        # Text columns: CharWidget turns an empty cell into "" (the model's text fields are NOT NULL).
        return fields.Field(attribute=attribute, column_name=label, widget=widget or widgets.CharWidget())

    class CustomerResource(resources.ModelResource):
        name = field("name", "姓名")
        gender = field("gender", "性别", MapWidget({"男": "M", "女": "F", "": ""}))
        birthday = field("birthday", "生日", widgets.DateWidget(format="%Y-%m-%d"))
        mobile = field("mobile", "手机号")
        id_number = field("id_number", "身份证号")
        level = field("level", "客户级别", DictWidget("customer_level"))
        company = field("company", "公司")
        title = field("title", "职位")
        industry = field("industry", "行业", DictWidget("industry"))
        income_band = field("income_band", "年收入", DictWidget("income_band"))
        address = field("address", "地址")
        source = field("source", "客户来源", DictWidget("customer_source"))
        broker_name = field("broker_name", "推荐居间商")
        owner = field("owner", "负责人", widgets.ForeignKeyWidget(User, "username"))
        sms_consent = field("sms_consent", "接收营销短信", MapWidget({"是": True, "否": False, "": False}))
        note = field("note", "备注")

        class Meta:
            model = Customer
            fields = (
                "name",
                "gender",
                "birthday",
                "mobile",
                "id_number",
                "level",
                "company",
                "title",
                "industry",
                "income_band",
                "address",
                "source",
                "broker_name",
                "owner",
                "sms_consent",
                "note",
            )
            force_init_instance = True  # every row is a new customer: no lookup by id
            use_transactions = True

        def before_save_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
            now = timezone.now()
            if instance.owner_id is None:
                instance.owner = actor
            instance.department_id = instance.owner.department_id
            instance.registered_by = actor
            instance.status = CustomerStatus.FORMAL
            instance.owned_since = instance.approved_at = now
            if instance.sms_consent:
                instance.sms_consent_at, instance.sms_consent_source = now, "导入"

    return CustomerResource()


def time_import_export(
    db: str,
    actor: Any,
    path: Path,
    rows: int,
    owners: dict[str, int],
    runs: int,
    sides: tuple[str, ...] = ("dry_run", "import"),
) -> dict[str, Any]:
    import tablib

    data = path.read_bytes()
    resource = customer_resource(actor)
    # Warm-up: the first rows through the whole path (imports, widgets, translations).
    small = tablib.Dataset().load(data, format="xlsx")
    del small[200:]
    assert not resource.import_data(small, dry_run=True, use_transactions=True).has_errors()

    times: dict[str, dict[str, list[float]]] = {side: {"load": [], "import": [], "total": []} for side in sides}
    loads = []
    for i in range(runs):
        for side, dry in (("dry_run", True), ("import", False)):
            if side not in sides:
                continue
            empty_customers()
            gc.collect()
            loads.append(loadavg())
            t0 = time.perf_counter()
            dataset = tablib.Dataset().load(data, format="xlsx")
            t1 = time.perf_counter()
            result = resource.import_data(dataset, dry_run=dry, use_transactions=True)
            t2 = time.perf_counter()
            errors = [e.error for _, errs in result.row_errors() for e in errs][:3]
            invalid = [r.error for r in result.invalid_rows][:3]
            assert not result.has_errors() and not invalid, f"django-import-export: {errors} {invalid}"
            assert result.totals["new"] == rows, result.totals
            verify(0 if dry else rows, {} if dry else owners)
            times[side]["load"].append(t1 - t0)
            times[side]["import"].append(t2 - t1)
            times[side]["total"].append(t2 - t0)
            log(
                db,
                f"imports: django-import-export {rows:,} rows #{i + 1} {side:7}: load {t1 - t0:5.2f} s, "
                f"import_data {t2 - t1:6.2f} s ({rows / (t2 - t0):,.0f} rows/s) [load {loads[-1]}]",
            )
            del dataset, result
    empty_customers()
    return {side: {part: summary(t, rows) for part, t in parts.items()} for side, parts in times.items()} | {
        "loadavg": loads
    }


# -- the measurement -----------------------------------------------------------------------------


def measure(db: str, actor: Any, facts: dict[str, Any], runs: int | None) -> dict[str, Any]:
    from crm.customers import imports

    full, prefix = xlsx_path(ROWS), xlsx_path(PREFIX_ROWS)
    results: dict[str, Any] = {"loadavg_before": loadavg(), "ours": {}, "ie": {}}

    # Warm-up: the whole path once on the small file (pinyin tables, templates, translations, the first COPY).
    empty_customers()
    data = prefix.read_bytes()
    kind = imports.KINDS["customer"]
    imports.commit(actor=actor, batch=imports.preview(actor=actor, kind=kind, data=data, filename=prefix.name))
    empty_customers()

    # The owner named as 张伟 (a login name that is also another user's full name): what our import says.
    probe = imports.read_table(data, prefix.name, kind.columns)
    probe.rows = probe.rows[:1]
    probe.rows[0][1]["owner"] = AMBIGUOUS_OWNER
    checked = imports.Checker(kind, actor).check(probe)
    results["ambiguous_owner"] = [p for row in checked.problems for p in row["problems"]]

    log(db, f"imports: ours, {ROWS:,} rows × {runs or REPEATS}…")
    results["ours"]["full"] = time_ours(db, actor, full, ROWS, facts["owners"], runs or REPEATS, mobiles=None)
    log(db, f"imports: ours, {PREFIX_ROWS:,} rows × {runs or REPEATS}…")
    results["ours"]["prefix"] = time_ours(
        db, actor, prefix, PREFIX_ROWS, facts["owners_prefix"], runs or REPEATS, facts["mobiles_prefix"]
    )
    log(db, "imports: diagnosis of the write (untimed, rolled back)…")
    results["diagnosis"] = diagnose(db, actor, full, ROWS)
    log(db, f"imports: django-import-export, {PREFIX_ROWS:,} rows × {runs or IE_REPEATS}…")
    results["ie"]["prefix"] = time_import_export(
        db, actor, prefix, PREFIX_ROWS, facts["owners_prefix"], runs or IE_REPEATS
    )
    if db == "postgresql":  # the target's database: the whole file once, the same file our import took
        log(db, f"imports: django-import-export, the whole {ROWS:,} rows once…")
        results["ie"]["full"] = time_import_export(db, actor, full, ROWS, facts["owners"], 1, sides=("import",))
    results["loadavg_after"] = loadavg()
    return results


# ================================================================================================
# Parent: databases, workers, report
# ================================================================================================


def fresh_database(db: str) -> None:
    """Drop the bench database and create it again, empty (PostgreSQL: C.UTF-8, like the customer bench)."""
    if db == "sqlite":
        path = Path(urlsplit(DATABASES[db]).path)
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            p.unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(DATABASES[db])
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    ensure_pg_database(DATABASES[db], locale="C.UTF-8")


def run_worker(db: str, runs: int | None) -> dict[str, Any]:
    return run_worker_in(db, runs or 0, script=__file__, databases=DATABASES, name=f"result-imports{_suffix}")


def rate(r: dict[str, Any]) -> str:
    return f"{r['rows_per_s']:,}"


def verdict(db: str, rows_per_s: float) -> str:
    if db != "postgresql":
        return "—"
    return "✅" if rows_per_s >= TARGET_ROWS_S else "❌"


PHASES = [  # (key, label)
    ("read_xlsx", "读取 xlsx(python-calamine 解析)"),
    ("read_clean", "清洗单元格(clean_cell)"),
    ("read_header", "找表头、组装行、跳过合计行"),
    ("check_rows", "逐行检查(格式、字典、负责人)"),
    ("check_existing", "查库:已有手机号/身份证号/卡号"),
    ("check_dedupe", "文件内查重"),
    ("write_keys", "计算搜索键(拼音)"),
    ("write_rows", "写入(COPY / bulk_create)与卡号"),
    ("other", "其余(批次、审计日志、事务提交)"),
]


def render(results: dict[str, dict[str, Any]], machine: dict[str, str], elapsed: float) -> str:
    today = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    first = next(iter(results.values()))
    info = first["info"]
    f = info["file"]
    versions = {db: r["info"]["db_version"] for db, r in results.items()}
    owners = "、".join(f"{name} {n:,}" for name, n in sorted(f["owners"].items(), key=lambda kv: -kv[1]))
    runs = len(first["results"]["ours"]["full"]["commit"]["runs"])
    ie_runs = len(first["results"]["ie"]["prefix"]["import"]["total"]["runs"])
    ie_minutes = "、".join(
        f"{DB_LABELS[db]} 约 {ROWS / r['results']['ie']['prefix']['import']['total']['rows_per_s'] / 60:.0f} 分钟"
        for db, r in results.items()
    )
    lines = [
        f"## 客户导入 ({ROWS:,} 行 .xlsx)",
        "",
        "由 `make bench`(`bench/imports.py`,经 `bench/run.py` 调用)生成,请勿手工修改本节;重新运行即可更新。",
        "",
        f"- 测试时间:{today}(本节两个数据库合计耗时 {elapsed / 60:.1f} 分钟)",
        f"- 机器:{machine['cpu']},{machine['nproc']} 核(nproc),内存 {machine['ram']};{machine['os']}",
        f"- PostgreSQL {versions.get('postgresql', '—')},SQLite {versions.get('sqlite', '—')},"
        f"Python {machine['python']},Django {machine['django']},{info['import_export']};"
        f"客户模块的迁移到 `{info['customers_migration']}`",
        "- 测量时的系统负载(/proc/loadavg,1/5/15 分钟;本机只有 2 核,同时有其他任务在运行):"
        + ";".join(
            f"{DB_LABELS[db]} 测量前 {r['results']['loadavg_before']},测量后 {r['results']['loadavg_after']}"
            for db, r in results.items()
        )
        + "。",
        "",
        "### 方法",
        "",
        f"- 文件:按导入模板的列(`crm/customers/imports.py` 的 `CUSTOMER_COLUMNS`,17 列,单元格都是文本,"
        f"与模板一致)生成的 .xlsx,{ROWS:,} 行,{f['bytes'] / 1e6:.1f} MB;用 `crm.core.datagen.People(seed={SEED})` "
        f"生成姓名({f['distinct_names']:,} 个不同姓名)、性别、生日、手机号(唯一)、身份证号(带校验位,与生日、性别一致,"
        "重复时重抽,唯一),客户级别、行业、年收入约 80% 填写,公司约 70%,地址、客户来源(转介绍 35%、居间商 20%)、"
        f"接收营销短信(是/否)全填,会员卡号留空(由导入生成)。负责人填演示组织销售人员的登录名:{owners}。"
        f"每一行都能导入(没有故意的坏行)。文件生成一次,缓存在 `var/bench/`,连同前 {PREFIX_ROWS:,} 行的小文件"
        f"({f['prefix_bytes'] / 1e6:.1f} MB)。",
        "- 每个数据库每次运行都先删掉重建(PostgreSQL `crm_bench_imports`,C.UTF-8;SQLite "
        "`var/bench/imports.sqlite3`),迁移并载入演示组织(`load_demo`),客户表为空。"
        f"以销售总监「{ACTOR}」(有导入客户的权限,数据权限为销售部及下级)导入。",
        "- 本系统:`imports.preview(actor=…, kind=KINDS['customer'], data=文件字节, filename=…)` 为「预览」"
        "(读文件、逐行检查、查库中已有的手机号/身份证号/卡号,不写客户;保存上传的文件和检查结果到 `ImportBatch`);"
        "`imports.commit(actor=…, batch=…)` 为「导入」:从批次中保存的文件字节开始,重新读文件、重新检查"
        "(数据库可能已变),在一个事务内写入全部合格行(PostgreSQL 用 COPY,SQLite 每 1,000 行一次 bulk_create),"
        "并生成会员卡号、写审计日志——它本身就是一次完整的导入。「预览 + 导入」是界面上的完整流程(先看预览再确认)。"
        f"每次重复前清空客户表(PostgreSQL `TRUNCATE customers_customer CASCADE`,SQLite `DELETE`)及导入批次;"
        f"先用小文件完整预热一次,再重复 {runs} 次取中位数;行/秒 = 导入行数 / 中位数耗时。",
        "- 每次导入后核对:表中客户数等于报告的导入数(且都属于该批次、都有会员卡号、都是正式客户、部门与登记人齐全),"
        "各负责人的客户数与文件一致,`name_initials`/`name_pinyin`/`name_grams` 全部非空,"
        "随机 200 行与 `search_keys(姓名)` 的结果一致;小文件第一次导入后还核对了全部手机号与文件一致。",
        "- 各阶段耗时:在测试进程中包装 `crm.core.imports._open_workbook`/`_read_sheet`/`_clean_rows`、"
        "`crm.customers.imports.read_table`/`Checker.check`/`Checker._row`/`_existing`/`_write`/`search_keys` 计时"
        "(不改应用代码;每次调用只多两次计时,影响可忽略),取各次重复的中位数。",
        f"- 对照组 django-import-export:在测试进程中为 Customer 声明一个 `ModelResource`(不加入 INSTALLED_APPS):"
        "同样的 16 列(会员卡号除外),表头映射到字段,性别、接收营销短信用自定义 Widget(男/女→M/F,是/否),"
        "生日 `DateWidget`,客户来源、级别、行业、年收入用限定字典类型的 `ForeignKeyWidget`(按名称),"
        "负责人 `ForeignKeyWidget(User, 'username')`;登记人、部门、状态(正式客户)、分配时间、成为正式客户时间、"
        "短信授权时间在 `before_save_instance` 中设置;`force_init_instance = True`(全部是新客户,不按 id 查找),"
        "其余为默认设置(逐行 `save()`,因此搜索键由 `Party.save()` 算出;不生成会员卡号;不做查重)。"
        "计时从文件字节开始:`tablib.Dataset().load(字节, format='xlsx')`(openpyxl)加上 "
        "`resource.import_data(dataset, dry_run=True / False, use_transactions=True)`;"
        "核对无错误行、`totals['new']` 等于行数、表中行数与搜索键同上(试运行后表中为 0 行)。"
        f"django-import-export 逐行查询与保存,整份 {ROWS:,} 行导入一次,按小文件上测得的速度估算要 {ie_minutes}:"
        f"所以**在 PostgreSQL 上(目标所在的数据库)用同一个 {ROWS:,} 行文件导入一次**(只做 dry_run=False),"
        f"另外在前 {PREFIX_ROWS:,} 行的小文件上两个数据库都测试运行和导入,重复 {ie_runs} 次取中位数(行/秒可以直接比较);"
        f"本系统在同一个小文件上也测了一遍。",
        "",
        "### 结果",
        "",
        f"目标:PostgreSQL 上一次完整导入(`commit`,从文件字节到提交的行)≥ {TARGET_ROWS_S:,} 行/秒。"
        "「预览 + 导入」两步相加,对照同一目标列出,但它把文件读、查了两遍,不是目标所指的单次导入。",
        "",
        "| 数据库 | 导入方式 | 步骤 | 行数 | 中位数 (s) | 最小 / 最大 (s) | 行/秒 | 达标(PG ≥ 20,000 行/秒) |",
        "|---|---|---|---:|---:|---:|---:|:---:|",
    ]
    for db in DATABASES:
        if db not in results:
            continue
        r = results[db]["results"]
        for size_key, size in (("full", ROWS), ("prefix", PREFIX_ROWS)):
            o = r["ours"][size_key]
            for key, label in (
                ("preview", "预览(试运行)"),
                ("commit", "导入(commit,完整导入)"),
                ("together", "预览 + 导入"),
            ):
                x = o[key]
                mark = verdict(db, x["rows_per_s"]) if key != "preview" else "—"
                lines.append(
                    f"| {DB_LABELS[db]} | 本系统 | {label} | {size:,} | {x['s']:.2f} "
                    f"| {x['min_s']:.2f} / {x['max_s']:.2f} | {rate(x)} | {mark} |"
                )
        for ie_key, size in (("full", ROWS), ("prefix", PREFIX_ROWS)):
            ie = r["ie"].get(ie_key, {})
            for key, label in (("dry_run", "import_data(dry_run=True)"), ("import", "import_data(dry_run=False)")):
                if key not in ie:
                    continue
                x = ie[key]["total"]
                lines.append(
                    f"| {DB_LABELS[db]} | django-import-export | {label},含读文件 {ie[key]['load']['s']:.2f} s "
                    f"| {size:,} | {x['s']:.2f} | {x['min_s']:.2f} / {x['max_s']:.2f} | {rate(x)} | — |"
                )
    lines += ["", "同一个小文件上的对比(行/秒,越大越好;「倍数」= 本系统 / django-import-export):", ""]
    lines += [
        "| 数据库 | 试运行:本系统 preview / django-import-export dry_run | 导入:本系统 commit / django-import-export |"
    ]
    lines += ["|---|---:|---:|"]
    for db in DATABASES:
        if db in results:
            r = results[db]["results"]
            o, ie = r["ours"]["prefix"], r["ie"]["prefix"]
            cells = []
            for ours_key, ie_key in (("preview", "dry_run"), ("commit", "import")):
                a, b = o[ours_key]["rows_per_s"], ie[ie_key]["total"]["rows_per_s"]
                cells.append(f"{a:,} / {b:,}({a / b:.0f} 倍)")
            lines.append(f"| {DB_LABELS[db]} | {cells[0]} | {cells[1]} |")
    pg = results.get("postgresql", {}).get("results", {})
    if "full" in pg.get("ie", {}):
        a, b = pg["ours"]["full"]["commit"]["rows_per_s"], pg["ie"]["full"]["import"]["total"]["rows_per_s"]
        lines += [
            "",
            f"同一个 {ROWS:,} 行文件,PostgreSQL:本系统导入(commit){a:,} 行/秒,django-import-export 导入 {b:,} 行/秒"
            f"({a / b:.0f} 倍)。",
        ]
    lines += [
        "",
        f"本系统 {ROWS:,} 行各阶段耗时(秒,中位数;「导入」与「预览」各自的读文件、检查都完整做一遍):",
        "",
        "| 阶段 | "
        + " | ".join(f"{DB_LABELS[db]} 预览 | {DB_LABELS[db]} 导入" for db in DATABASES if db in results)
        + " |",
        "|---|" + "---:|---:|" * len(results),
    ]
    for key, label in PHASES:
        cells = []
        for db in DATABASES:
            if db in results:
                o = results[db]["results"]["ours"]["full"]
                cells += [f"{o['preview_phases'][key]:.2f}", f"{o['commit_phases'][key]:.2f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = []
    for db in DATABASES:
        if db in results:
            o = results[db]["results"]["ours"]["full"]
            cells += [f"**{o['preview']['s']:.2f}**", f"**{o['commit']['s']:.2f}**"]
    lines.append("| 合计(中位数) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "各阶段是分别取中位数,相加与合计可能略有出入。预览中保存上传文件(一行 `ImportBatch`,含文件字节)计入「其余」,"
        + ";".join(
            f"{DB_LABELS[db]} 单独测得 {results[db]['results']['ours']['full']['store_upload_s'] * 1000:.0f} ms"
            for db in DATABASES
            if db in results
        )
        + "。PostgreSQL 的 COPY 由另一个线程向服务器发送(`QueuedLibpqWriter`),"
        "「写入」为本线程组织数据与等待发送完成的时间,其中含服务器端维护客户表各索引(含 trigram GIN 索引)的时间;"
        "PostgreSQL「导入」的「其余」主要是事务提交时延迟执行的外键检查(见下)。",
    ]
    lines += render_diagnosis(results)
    probe = first["results"].get("ambiguous_owner")
    if probe:
        lines += [
            "",
            f"负责人一列填登录名「{AMBIGUOUS_OWNER}」(销售一组的张伟)时,本系统的检查结果:「{';'.join(probe)}」。"
            f"另一位业务员的姓名也是「{AMBIGUOUS_OWNER}」(登录名「张伟(销售二组)」),所以按登录名也无法指定销售一组的张伟;"
            "本测试的文件因此不用他作负责人。",
        ]
    lines += [
        "",
        "原始数据(每次重复的耗时、当时的负载、各阶段耗时)在 `var/bench/result-imports-*.json`。",
        "",
    ]
    return "\n".join(lines)


def render_diagnosis(results: dict[str, dict[str, Any]]) -> list[str]:
    """The write, taken apart: foreign-key checks, index maintenance (one rolled-back commit per variant)."""
    labels = {
        "postgresql": [
            ("as_is", "原样"),
            ("no_gin", "去掉 trigram(GIN)索引"),
            ("no_indexes", "去掉全部二级索引"),
        ],
        "sqlite": [
            ("as_is", "原样"),
            ("no_triggers", "去掉全文索引触发器"),
            ("no_indexes", "去掉触发器和全部二级索引"),
        ],
    }
    lines = [
        "",
        f"写入的时间去向({ROWS:,} 行各做一次,不计入上表:每种情况在外层事务中执行 `commit()`,随后整体回滚;"
        "去掉索引/触发器也在该事务内,回滚后恢复。PostgreSQL 的外键约束是 Django 建的 DEFERRABLE INITIALLY DEFERRED,"
        "逐行检查推迟到事务提交时执行;这里在回滚前执行 `SET CONSTRAINTS ALL IMMEDIATE` 单独计时):",
        "",
        "| 数据库 | 情况 | 去掉的对象 | commit()(不含提交)(s) | 其中写入 (s) | 外键检查 (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for db in DATABASES:
        diagnosis = results.get(db, {}).get("results", {}).get("diagnosis")
        if not diagnosis:
            continue
        for key, label in labels[db]:
            d = diagnosis[key]
            fk = f"{d['fk_checks_s']:.2f}" if d["fk_checks_s"] is not None else "—"
            lines.append(
                f"| {DB_LABELS[db]} | {label} | {d['dropped']} | {d['commit_s']:.2f} | {d['write_s']:.2f} | {fk} |"
            )
    notes = []
    pg = results.get("postgresql", {}).get("results", {})
    if pg.get("diagnosis"):
        d = pg["diagnosis"]
        a = d["as_is"]
        gin = a["write_s"] - d["no_gin"]["write_s"]
        notes.append(
            f"PostgreSQL:原样导入 = commit() {a['commit_s']:.1f} s + 提交时的外键检查 {a['fk_checks_s']:.1f} s;"
            f"写入的 {a['write_s']:.1f} s 中 trigram 索引维护约 {gin:.1f} s,"
            f"其余 B 树索引约 {d['no_gin']['write_s'] - d['no_indexes']['write_s']:.1f} s,"
            f"没有二级索引时 COPY 本身 {d['no_indexes']['write_s']:.1f} s。"
        )
    lite = results.get("sqlite", {}).get("results", {})
    if lite.get("diagnosis"):
        d = lite["diagnosis"]
        notes.append(
            f"SQLite:全文索引触发器约 {d['as_is']['write_s'] - d['no_triggers']['write_s']:.1f} s,"
            f"二级索引约 {d['no_triggers']['write_s'] - d['no_indexes']['write_s']:.1f} s,"
            f"没有索引和触发器时写入仍要 {d['no_indexes']['write_s']:.1f} s"
            "(每行 `Customer(**…)` 与 `bulk_create` 的 SQL 编译)。"
        )
    floor = pg.get("diagnosis", {}).get("server_floor")
    if floor:
        notes.append(
            f"PostgreSQL 自身的下限(不含任何 Python 工作):把原样导入写下的 {ROWS:,} 行(COPY 文本)再用一条 COPY 写入"
            f"带全部索引的空表 {floor['copy_s']:.1f} s,加上外键检查 {floor['fk_checks_s']:.1f} s,"
            f"共 {floor['total_s']:.1f} s,即最多 {floor['rows_per_s']:,} 行/秒(三次的中位数)。"
        )
    if notes:
        lines += ["", *(f"- {n}" for n in notes)]
    return lines


def write_section(body: str) -> None:
    write_section_in(body, SECTION)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print()
    print(f"{'import':38} {'database':11} {'rows':>8} {'median s':>9} {'rows/s':>9}  target")
    for db in DATABASES:
        if db not in results:
            continue
        r = results[db]["results"]
        for size_key, size in (("full", ROWS), ("prefix", PREFIX_ROWS)):
            for key in ("preview", "commit", "together"):
                x = r["ours"][size_key][key]
                mark = verdict(db, x["rows_per_s"]) if key != "preview" else ""
                print(f"{'ours ' + key:38} {DB_LABELS[db]:11} {size:8,} {x['s']:9.2f} {x['rows_per_s']:9,}  {mark}")
        for key in ("dry_run", "import"):
            x = r["ie"]["prefix"][key]["total"]
            label = f"django-import-export {key} (+load)"
            print(f"{label:38} {DB_LABELS[db]:11} {PREFIX_ROWS:8,} {x['s']:9.2f} {x['rows_per_s']:9,}")
    print()


def run(selected: list[str] | None = None, runs: int | None = None, no_doc: bool = False) -> None:
    """Both databases (or ``selected``), then the table and, on a full default run, the section of the doc."""
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    VAR.mkdir(parents=True, exist_ok=True)
    selected = selected or list(DATABASES)
    results = {}
    for db in DATABASES:
        if db not in selected:
            continue
        fresh_database(db)
        results[db] = run_worker(db, runs)
    elapsed = time.perf_counter() - started
    print_table(results)
    if no_doc or set(selected) != set(DATABASES) or runs is not None or ROWS != FULL_ROWS:
        print("docs/performance.md not rewritten for the import benchmark (partial run)")
        return
    write_section(render(results, machine_info(), elapsed))
    print(f"docs/performance.md updated: import section ({elapsed / 60:.1f} min)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", choices=sorted(DATABASES), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", action="append", choices=sorted(DATABASES), help="only this database")
    parser.add_argument("--runs", type=int, help=f"repetitions (default {REPEATS}; django-import-export {IE_REPEATS})")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.out, args.runs or None)
        return
    run(args.db, args.runs, args.no_doc)


if __name__ == "__main__":
    main()
