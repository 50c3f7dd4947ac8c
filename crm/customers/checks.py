"""``manage.py check --database default``: PostgreSQL must index Chinese for the name and mobile searches."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db import connections


@checks.register(checks.Tags.database)
def trigram_indexes_chinese(databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    out: list[checks.CheckMessage] = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
            if not cursor.fetchone()[0]:
                continue  # not migrated yet
            cursor.execute("SELECT show_trgm('张伟明')")
            if not cursor.fetchone()[0]:
                out.append(
                    checks.Warning(
                        "数据库的 LC_CTYPE 不是 UTF-8 区域设置,pg_trgm 不为中文建索引,客户姓名搜索会很慢。"
                        "(The database's LC_CTYPE is not a UTF-8 locale: pg_trgm indexes no Chinese.)",
                        hint="CREATE DATABASE … TEMPLATE template0 ENCODING 'UTF8' LC_CTYPE 'C.UTF-8'",
                        id="customers.W001",
                    )
                )
    return out
