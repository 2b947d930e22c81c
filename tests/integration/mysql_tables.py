"""Tables for the MySQL connector tests: made with a unique name, read back with plain SQL."""

from __future__ import annotations

import uuid
from typing import Any

from django_onestep.connectors.mysql.dsn import connect_params


def execute(url: str, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
    import MySQLdb

    conn = MySQLdb.connect(**connect_params(url))
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            rows = list(cursor.fetchall())
        conn.commit()
        return rows
    finally:
        conn.close()


def orders_table(url: str, rows: int, *, attempts_column: bool = False) -> str:
    """``orders_<hex>`` with ``rows`` rows in status 'new' (ids 1..rows)."""
    name = f"orders_{uuid.uuid4().hex[:10]}"
    extra = ", tries INT NOT NULL DEFAULT 0" if attempts_column else ""
    execute(
        url,
        f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, status VARCHAR(20) NOT NULL, note VARCHAR(100) NULL{extra})",
    )
    if rows:
        values = ", ".join(f"({i}, 'new')" for i in range(1, rows + 1))
        execute(url, f"INSERT INTO {name} (id, status) VALUES {values}")
    return name


def statuses(url: str, table: str) -> dict[str, int]:
    return {str(s): int(n) for s, n in execute(url, f"SELECT status, COUNT(*) FROM {table} GROUP BY status")}
