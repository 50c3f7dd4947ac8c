"""SQLite's own search structures for leads and customers, which Django's schema editor does not know about:

- ``NOCASE`` indexes for the pinyin and card-number prefix searches (SQLite's LIKE ignores ASCII case, so only
  such an index can serve ``LIKE 'zw%'``; see migration 0003);
- the FTS5 token index of names and mobiles, and the triggers that keep it in step (migration 0006).

On SQLite, Django alters a column by rebuilding the table, which drops whatever it did not create. So these
are (re)installed after every ``migrate`` (``post_migrate``): created if missing, and the token index rebuilt
from the table when its triggers had to be recreated. PostgreSQL has none of this (its trigram and pattern
indexes are ordinary indexes, migration 0002).
"""

from __future__ import annotations

from typing import Any

NOCASE = [  # (index, table, column)
    ("cust_card_nocase", "customers_customer", "card_no"),
    ("cust_initials_nocase", "customers_customer", "name_initials"),
    ("cust_pinyin_nocase", "customers_customer", "name_pinyin"),
    ("lead_initials_nocase", "customers_lead", "name_initials"),
    ("lead_pinyin_nocase", "customers_lead", "name_pinyin"),
]
TABLES = ("customers_customer", "customers_lead")


def tokens(row: str) -> str:
    """The SQL of a row's search tokens: its name's grams and every 4 consecutive digits of its mobile."""
    mobile = " || ' ' || ".join(f"substr({row}.mobile, {i}, 4)" for i in range(1, 9))
    return f"{row}.name_grams || ' ' || {mobile}"


def install(connection: Any) -> list[str]:
    """Create what is missing; returns the tables whose structures were (re)built."""
    if connection.vendor != "sqlite":
        return []
    changed: list[str] = []
    with connection.cursor() as c:
        existing = {name for (name,) in c.execute("SELECT name FROM sqlite_master").fetchall()}
        for name, table, column in NOCASE:
            if name not in existing and table in existing:
                c.execute(f'CREATE INDEX {name} ON {table} ("{column}" COLLATE NOCASE)')
                changed.append(table)
        for t in TABLES:
            if t not in existing:
                continue
            fts = f"{t}_fts"
            triggers = [f"{fts}_ai", f"{fts}_ad", f"{fts}_au"]
            if fts in existing and all(tr in existing for tr in triggers):
                continue
            if fts not in existing:
                c.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5(tokens, content='', tokenize='unicode61')")
            for tr in triggers:
                c.execute(f"DROP TRIGGER IF EXISTS {tr}")
            c.execute(
                f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {t} BEGIN "
                f"INSERT INTO {fts}(rowid, tokens) VALUES (new.id, {tokens('new')}); END"
            )
            c.execute(
                f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {t} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, tokens) VALUES ('delete', old.id, {tokens('old')}); END"
            )
            c.execute(
                f"CREATE TRIGGER {fts}_au AFTER UPDATE OF name_grams, mobile ON {t} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, tokens) VALUES ('delete', old.id, {tokens('old')}); "
                f"INSERT INTO {fts}(rowid, tokens) VALUES (new.id, {tokens('new')}); END"
            )
            c.execute(f"INSERT INTO {fts}({fts}) VALUES ('delete-all')")
            c.execute(f"INSERT INTO {fts}(rowid, tokens) SELECT id, {tokens(t)} FROM {t}")
            changed.append(t)
        changed = list(dict.fromkeys(changed))
        for t in changed:
            c.execute(f"ANALYZE {t}")
    return changed


def uninstall(connection: Any) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as c:
        for t in TABLES:
            for suffix in ("ai", "ad", "au"):
                c.execute(f"DROP TRIGGER IF EXISTS {t}_fts_{suffix}")
            c.execute(f"DROP TABLE IF EXISTS {t}_fts")
        for name, _table, _column in NOCASE:
            c.execute(f"DROP INDEX IF EXISTS {name}")


def after_migrate(using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    install(connections[using])
