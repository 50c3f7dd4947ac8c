"""PostgreSQL search indexes (SQLite has no equivalent and needs none at the club's scale).

- trigram GIN on the name (3+ characters anywhere), on the name's grams (1–2 characters: the pattern
  ``% 伟明 %`` is a word of its own to pg_trgm) and on the mobile (any 4+ digits);
- ``varchar_pattern_ops`` btree on the pinyin keys, so that a prefix search uses an index whatever the
  database's collation.

pg_trgm indexes Chinese only under a UTF-8 LC_CTYPE; ``manage.py check`` warns when it does not.
"""

from django.db import migrations

TABLES = ("customers_lead", "customers_customer")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table in TABLES:
        short = table.split("_")[1][:4]
        for column in ("name", "name_grams", "mobile"):
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {short}_{column}_trgm ON {table} USING gin ({column} gin_trgm_ops)"
            )
        for column in ("name_initials", "name_pinyin"):
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {short}_{column}_pat ON {table} ({column} varchar_pattern_ops)"
            )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        short = table.split("_")[1][:4]
        for column in ("name", "name_grams", "mobile"):
            schema_editor.execute(f"DROP INDEX IF EXISTS {short}_{column}_trgm")
        for column in ("name_initials", "name_pinyin"):
            schema_editor.execute(f"DROP INDEX IF EXISTS {short}_{column}_pat")


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
