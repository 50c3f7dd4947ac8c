"""The database connection as the application opens it."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL planner setting")
def test_postgresql_plans_with_the_random_page_cost_of_data_in_memory() -> None:
    """``DB_RANDOM_PAGE_COST`` (default 1.1) is set on every connection: a salesman's name search then reads the
    trigram index alone, not also the 200,000 entries of his part of the owner index (docs/performance.md)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"
