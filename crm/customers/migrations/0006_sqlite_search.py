"""SQLite: the FTS5 token index for the name and mobile substring searches of the lead and customer lists.

SQLite has no index for ``LIKE '%伟明%'`` (and its FTS5 trigram tokenizer returns wrong, empty results for
two-character terms: see DESIGN.md). Each record's search tokens — the name's characters and character pairs
(``name_grams``) and every four consecutive digits of the mobile — go into a contentless FTS5 table with the
``unicode61`` tokenizer, which keeps each space-separated token whole; triggers keep it in step with every
insert, update and delete, whoever writes. The definitions live in ``crm/customers/sqlite_search.py``, which
also reinstalls them after every migrate (a table rebuilt by a later migration loses its triggers).
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from crm.customers import sqlite_search

    sqlite_search.install(schema_editor.connection)


def backwards(apps, schema_editor):
    from crm.customers import sqlite_search

    sqlite_search.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_lean_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
