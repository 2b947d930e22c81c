"""Claim statements per database vendor. Each runs on the queue's claim thread.

* SQLite (>= 3.35): one guarded ``UPDATE ... WHERE id IN (SELECT ... LIMIT n)
  RETURNING``. SQLite has a single writer, so the statement cannot double-claim.
* PostgreSQL: one ``WITH picked AS MATERIALIZED (SELECT ... FOR UPDATE SKIP LOCKED)
  UPDATE ... RETURNING`` in autocommit: one round trip where a transaction takes four
  (BEGIN, SELECT, UPDATE, COMMIT), which an idle worker's wake-up waits for. The
  materialized CTE picks the rows once (a ``WHERE id IN (subquery)`` may be planned as
  a join that runs the ``LIMIT`` more than once and claims more rows).
* MySQL/MariaDB (no ``UPDATE ... RETURNING``): ``SELECT ... FOR UPDATE SKIP LOCKED``
  then ``UPDATE ... WHERE id IN (...)`` in one READ COMMITTED transaction (REPEATABLE
  READ deadlocked even with one worker on MariaDB); a deadlock or lock-wait timeout is
  retried. Servers without SKIP LOCKED (MariaDB < 10.6) fall back to plain ``FOR UPDATE``.

Timestamps are adapted with the backend's own adapter, as the ORM would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_onestep.orm.dbthread import retry_lock_conflicts

__all__ = ["ClaimedRow", "claim_rows", "probe_due", "table_sql"]

_CLAIM_RETRIES = 5


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    payload: Any
    meta: dict[str, Any]
    attempts: int  # after the claim's increment
    reclaims: int
    priority: int
    # Settling clears a dedupe key so the key can be enqueued again. A job without one
    # leaves the column out of its UPDATE, which spares the write to its unique index.
    has_dedupe_key: bool


def table_sql(connection: Any) -> str:
    from django_onestep.models import Job

    return str(connection.ops.quote_name(Job._meta.db_table))


def dt(connection: Any, value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _json(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        value = value.decode()
    if isinstance(value, str):
        return json.loads(value)
    return value  # a driver that already decoded it (psycopg)


def _rows(raw: list[tuple[Any, ...]]) -> list[ClaimedRow]:
    rows = [
        ClaimedRow(
            id=int(r[0]),
            payload=_json(r[1]),
            meta=_json(r[2]) or {},
            attempts=int(r[3]),
            reclaims=int(r[4]),
            priority=int(r[5]),
            has_dedupe_key=bool(r[6]),
        )
        for r in raw
    ]
    rows.sort(key=lambda row: (-row.priority, row.id))
    return rows


# a job whose expires_at passed is never claimed (upkeep marks it expired)
_NOT_EXPIRED = "(expires_at IS NULL OR expires_at > %s)"


def probe_due(connection: Any, queue: str, now: datetime) -> bool:
    """A cheap read: is any job of ``queue`` due? (Used while idle, before claiming.)"""
    table = table_sql(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE queue = %s AND status = 'queued' AND available_at <= %s "
            f"AND {_NOT_EXPIRED} LIMIT 1",
            [queue, dt(connection, now), dt(connection, now)],
        )
        return cursor.fetchone() is not None


def claim_rows(
    connection: Any,
    *,
    queue: str,
    limit: int,
    token: str,
    owner: str,
    now: datetime,
    lease_until: datetime,
) -> list[ClaimedRow]:
    if connection.vendor not in ("sqlite", "postgresql"):
        return _claim_locking(connection, queue, limit, token, owner, now, lease_until)
    # one UPDATE ... RETURNING: its own transaction in autocommit, or part of the
    # caller's, as when a claim joins a settle transaction
    table = table_sql(connection)
    now_db = dt(connection, now)
    running = [token, owner, dt(connection, lease_until), now_db, now_db]
    due = [queue, now_db, now_db, limit]
    if connection.vendor == "sqlite":
        sql = f"UPDATE {table} SET {_SET_RUNNING} WHERE id IN ({_due_sql(table)}) RETURNING {_COLUMNS}"
        params = running + due
    else:
        _ensure_read_committed(connection)
        set_running = _SET_RUNNING.replace("attempts = attempts", f"attempts = {table}.attempts")
        returning = ", ".join(f"{table}.{column}" for column in _COLUMNS.split(", "))
        sql = (
            f"WITH picked AS MATERIALIZED ({_due_sql(table, ' FOR UPDATE SKIP LOCKED')}) "
            f"UPDATE {table} SET {set_running} FROM picked WHERE {table}.id = picked.id RETURNING {returning}"
        )
        params = due + running  # the CTE's parameters come first
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _rows(cursor.fetchall())


_SET_RUNNING = (
    "status = 'running', attempts = attempts + 1, claim_token = %s, lease_owner = %s, "
    "lease_until = %s, claimed_at = %s, updated_at = %s"
)
_COLUMNS = "id, payload, meta, attempts, reclaims, priority, dedupe_key"


def _due_sql(table: str, lock: str = "") -> str:
    """The due jobs of a queue, in claim order (parameters: queue, now, now, limit)."""
    return (
        f"SELECT id FROM {table} WHERE queue = %s AND status = 'queued' AND available_at <= %s "
        f"AND {_NOT_EXPIRED} ORDER BY priority DESC, id LIMIT %s{lock}"
    )


def mark_running(
    cursor: Any,
    connection: Any,
    raw: list[tuple[Any, ...]],
    token: str,
    owner: str,
    lease_until: datetime,
    now_db: Any,
) -> list[ClaimedRow]:
    """Claim the rows a locking SELECT of ``_COLUMNS`` returned, in the same transaction."""
    if not raw:
        return []
    ids = [r[0] for r in raw]
    marks = ", ".join(["%s"] * len(ids))
    cursor.execute(
        f"UPDATE {table_sql(connection)} SET {_SET_RUNNING} WHERE id IN ({marks})",
        [token, owner, dt(connection, lease_until), now_db, now_db, *ids],
    )
    # the SELECT saw the values before the increment
    return _rows([(r[0], r[1], r[2], int(r[3]) + 1, *r[4:]) for r in raw])


def _ensure_read_committed(connection: Any) -> None:
    """Set READ COMMITTED once per physical connection (this thread owns it)."""
    connection.ensure_connection()
    raw = connection.connection
    if getattr(connection, "_onestep_rc_conn", None) is raw:
        return
    if connection.vendor in ("mysql", "postgresql"):
        with connection.cursor() as cursor:
            if connection.vendor == "mysql":
                cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            else:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED")
    connection._onestep_rc_conn = raw


def _claim_locking(
    connection: Any,
    queue: str,
    limit: int,
    token: str,
    owner: str,
    now: datetime,
    lease_until: datetime,
) -> list[ClaimedRow]:
    from django.db import transaction

    table = table_sql(connection)
    lock = "FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else "FOR UPDATE"
    select = (
        f"SELECT {_COLUMNS} FROM {table} WHERE queue = %s AND status = 'queued' AND available_at <= %s "
        f"AND {_NOT_EXPIRED} ORDER BY priority DESC, id LIMIT %s {lock}"
    )
    _ensure_read_committed(connection)
    now_db = dt(connection, now)

    def claim() -> list[ClaimedRow]:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(select, [queue, now_db, now_db, limit])
            return mark_running(cursor, connection, cursor.fetchall(), token, owner, lease_until, now_db)

    return retry_lock_conflicts(claim, _CLAIM_RETRIES)
