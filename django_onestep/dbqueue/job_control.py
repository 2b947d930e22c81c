"""Statements behind cancel, abort and expiry, run on the queue's DB threads.

* ``aborts_among``: which of the jobs this worker holds were asked to stop
  (``JobHandle.cancel()`` on a running job). The lease loop asks at every renewal, so
  an abort is honoured within one renewal (``lease_s / 3``).
* ``mark_expired``: queued jobs whose ``expires_at`` passed become ``expired``. The
  claim already skips them, so this only makes their status say so; it runs with the
  expired-lease sweep.
"""

from __future__ import annotations

from django_onestep.dbqueue.claims import dt, table_sql

__all__ = ["aborts_among", "mark_expired"]

_CHUNK = 500


def aborts_among(using: str, job_ids: list[int]) -> set[int]:
    from django.db import connections

    connection = connections[using]
    table = table_sql(connection)
    found: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(job_ids), _CHUNK):
            chunk = job_ids[start : start + _CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT id FROM {table} WHERE id IN ({marks}) AND status = 'running' "
                "AND abort_requested_at IS NOT NULL",
                chunk,
            )
            found.update(int(row[0]) for row in cursor.fetchall())
    return found


def mark_expired(using: str, queue: str) -> int:
    from django.db import connections
    from django.utils import timezone

    connection = connections[using]
    table = table_sql(connection)
    now_db = dt(connection, timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = 'expired', finished_at = %s, updated_at = %s, dedupe_key = NULL "
            "WHERE queue = %s AND status = 'queued' AND expires_at <= %s",
            [now_db, now_db, queue, now_db],
        )
        return int(cursor.rowcount)
