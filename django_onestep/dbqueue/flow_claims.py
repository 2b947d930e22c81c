"""The claim of a queue with flow control (a rate limit, a concurrency key or both).

One transaction: lock the queue's ``QueueFlow`` row (a no-op UPDATE, so SQLite takes
its write lock before reading and MariaDB/PostgreSQL a row lock that serialises the
queue's claims across workers), work out how many jobs may start (``rate_limit.py``)
and which keys have room (``concurrency_keys.py``), mark those jobs running, and
record the claim in the window. Jobs left behind stay ``queued`` with their attempts
untouched; the queue's idle poll claims them when the window or the key frees.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django_onestep.dbqueue.claims import (
    _COLUMNS,
    _NOT_EXPIRED,
    ClaimedRow,
    dt,
    mark_running,
    table_sql,
)
from django_onestep.dbqueue.concurrency_keys import select_keyed
from django_onestep.dbqueue.rate_limit import RateLimit, allowance, flow_table, record_claims
from django_onestep.orm.dbthread import retry_lock_conflicts

__all__ = ["claim_with_flow", "ensure_flow_row"]

_RETRIES = 5


def ensure_flow_row(using: str, queue: str) -> None:
    """Create the queue's flow row once (a race with another worker is harmless)."""
    from django_onestep.models import QueueFlow

    QueueFlow.objects.using(using).get_or_create(queue=queue, defaults={"claims": "[]"})


def claim_with_flow(
    connection: Any,
    *,
    queue: str,
    limit: int,
    token: str,
    owner: str,
    now: datetime,
    lease_until: datetime,
    rate: RateLimit | None,
    max_per_key: int | None,
) -> list[ClaimedRow]:
    from django.db import transaction

    from django_onestep.dbqueue.claims import _ensure_read_committed

    if connection.vendor == "sqlite":
        connection.ensure_connection()
    else:
        _ensure_read_committed(connection)

    def claim() -> list[ClaimedRow]:
        with transaction.atomic(using=connection.alias):
            return _claim(connection, queue, limit, token, owner, now, lease_until, rate, max_per_key)

    return retry_lock_conflicts(claim, _RETRIES)


def _claim(
    connection: Any,
    queue: str,
    limit: int,
    token: str,
    owner: str,
    now: datetime,
    lease_until: datetime,
    rate: RateLimit | None,
    max_per_key: int | None,
) -> list[ClaimedRow]:
    table = table_sql(connection)
    now_db = dt(connection, now)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {flow_table(connection)} SET queue = queue WHERE queue = %s", [queue])
        recent: list[list[float]] = []
        if rate is not None:
            left, recent = allowance(connection, queue, rate, now)
            limit = min(limit, left)
            if not limit:
                return []
        lock = ""
        if connection.vendor != "sqlite":
            skip = connection.features.has_select_for_update_skip_locked
            lock = "FOR UPDATE SKIP LOCKED" if skip else "FOR UPDATE"
        if max_per_key is None:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM {table} WHERE queue = %s AND status = 'queued' "
                f"AND available_at <= %s AND {_NOT_EXPIRED} ORDER BY priority DESC, id LIMIT %s {lock}",
                [queue, now_db, now_db, limit],
            )
            raw = cursor.fetchall()
        else:
            # look further than `limit`: jobs of one key beyond its room are passed over
            cursor.execute(
                select_keyed(table, _COLUMNS, _NOT_EXPIRED, lock),
                [queue, now_db, now_db, max_per_key, limit * 4],
            )
            raw = _with_room(cursor.fetchall(), max_per_key, limit)
        claimed = mark_running(cursor, connection, raw, token, owner, lease_until, now_db)
        if claimed and rate is not None:
            record_claims(connection, queue, rate, recent, len(claimed))
    return claimed


def _with_room(candidates: list[tuple[Any, ...]], max_per_key: int, limit: int) -> list[tuple[Any, ...]]:
    """The first ``limit`` candidates, at most the room each key has left."""
    taken: Counter[str] = Counter()
    chosen: list[tuple[Any, ...]] = []
    for row in candidates:
        *columns, key, running = row  # select_keyed puts the key and its running count last
        if key is not None:
            if int(running) + taken[key] >= max_per_key:
                continue
            taken[key] += 1
        chosen.append(tuple(columns))
        if len(chosen) == limit:
            break
    return chosen
