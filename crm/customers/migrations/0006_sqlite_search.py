"""SQLite: full-text indexes for the substring searches of the lead and customer lists.

SQLite has no index for ``LIKE '%伟明%'`` (and its FTS5 trigram tokenizer returns wrong, empty results for
two-character terms: see DESIGN.md). Each record's search tokens — the name's characters and character pairs
(``name_grams``) and every four consecutive digits of the mobile — go into a contentless FTS5 table with the
``unicode61`` tokenizer, which keeps each space-separated token whole; triggers keep it in step with every
insert, update and delete, whoever writes (a page, an import, a merge). A search is then a token lookup:
'"伟明"', '"5678"', or '"张志" AND "志强"' plus the LIKE on the few rows found (crm/core/textsearch.py).

PostgreSQL needs none of this: its trigram indexes (0002) serve the same searches.
"""

from django.db import migrations

TABLES = ("customers_customer", "customers_lead")


def tokens(row: str) -> str:
    mobile = " || ' ' || ".join(f"substr({row}.mobile, {i}, 4)" for i in range(1, 9))
    return f"{row}.name_grams || ' ' || {mobile}"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for t in TABLES:
        fts = f"{t}_fts"
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5(tokens, content='', tokenize='unicode61 remove_diacritics 0')"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {t} BEGIN "
            f"INSERT INTO {fts}(rowid, tokens) VALUES (new.id, {tokens('new')}); END"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {t} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, tokens) VALUES ('delete', old.id, {tokens('old')}); END"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF name_grams, mobile ON {t} BEGIN "
            f"INSERT INTO {fts}({fts}, rowid, tokens) VALUES ('delete', old.id, {tokens('old')}); "
            f"INSERT INTO {fts}(rowid, tokens) VALUES (new.id, {tokens('new')}); END"
        )
        schema_editor.execute(f"INSERT INTO {fts}(rowid, tokens) SELECT id, {tokens(t)} FROM {t}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for t in TABLES:
        fts = f"{t}_fts"
        for suffix in ("ai", "ad", "au"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {fts}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_lean_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
