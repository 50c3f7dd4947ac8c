"""SQLite: case-insensitive (NOCASE) indexes for the prefix searches of the lead and customer lists.

Django compiles ``startswith`` to ``LIKE 'zw%' ESCAPE '\\'`` on SQLite. SQLite's LIKE ignores ASCII case, so it
can seek a prefix in an index only when the index has the NOCASE collation (the "LIKE optimization"); the
model's ordinary (BINARY) indexes on name_initials / name_pinyin and the unique index on card_no cannot serve
it, and every pinyin or card-number search read the whole table. On 1,000,000 customers (bench/customers.py,
docs/performance.md): pinyin initials 150–390 ms and a full card number 280–760 ms a page, the count alone
130–450 ms; with these indexes the same queries take 0–18 ms.

The values are lower-case pinyin and upper-case card numbers, so NOCASE changes no result. PostgreSQL needs
none of this: it has ``varchar_pattern_ops`` indexes for the pinyin (0002) and Django's ``_like`` index for the
unique card number.
"""

from django.db import migrations

INDEXES = [  # (name, table, column)
    ("cust_card_nocase", "customers_customer", "card_no"),
    ("cust_initials_nocase", "customers_customer", "name_initials"),
    ("cust_pinyin_nocase", "customers_customer", "name_pinyin"),
    ("lead_initials_nocase", "customers_lead", "name_initials"),
    ("lead_pinyin_nocase", "customers_lead", "name_pinyin"),
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {name} ON {table} ("{column}" COLLATE NOCASE)')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_search_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
