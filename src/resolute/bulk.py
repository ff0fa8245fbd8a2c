"""Writing many rows in one go, for the bulk paths (intake, the TAK listener's raw details).

SQLite: one executemany. PostgreSQL: COPY, since Django's psycopg cursor binds parameters
client-side and executemany would send one INSERT per row. Django's bulk_create is avoided on
these paths: it prepares every value through the field machinery and builds a model instance per
row, which costs more than storing the row. Callers pass values already in database form.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def insert_rows(table: str, columns: str, rows: Sequence[tuple], placeholders: str) -> None:
    """Insert `rows` into `table` (quoted name) with `columns` (quoted, comma-separated);
    `placeholders` is the VALUES list for SQLite, e.g. "%s, %s, %s"."""
    if not rows:
        return
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)
