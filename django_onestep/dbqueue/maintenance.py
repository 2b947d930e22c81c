"""Lease upkeep and retention, run on the queue's DB threads.

* ``reclaim_expired``: any worker puts back jobs whose lease expired (their worker
  died or stalled), counting it in ``reclaims`` for ``max_deliveries``. It runs from
  ``fetch`` every ``lease_s / 4`` (``sweep``) and uses the ``(status, lease_until)`` index.
* ``extend_leases``: the heartbeat for the jobs a worker holds (fenced on owner and
  token, so a job that was already reclaimed is left alone).
* ``prune_done``: deletes old ``done`` rows in small batches.
"""

from __future__ import annotations

from datetime import timedelta

from django_onestep.dbqueue import job_control
from django_onestep.dbqueue.claims import dt, table_sql
from django_onestep.orm.dbthread import retry_lock_conflicts

__all__ = ["extend_leases", "prune_done", "reclaim_expired", "release_token", "sweep"]

_LEASE_CHUNK = 500


def sweep(using: str, queue: str) -> None:
    """What ``fetch`` runs every ``lease_s / 4``: expired leases back to the queue, then
    queued jobs past ``expires_at`` marked expired. MySQL/MariaDB may pick either
    statement as a deadlock victim against claims and settlements; it runs again."""
    retry_lock_conflicts(lambda: reclaim_expired(using, queue))
    retry_lock_conflicts(lambda: job_control.mark_expired(using, queue))


def reclaim_expired(using: str, queue: str) -> int:
    from django.db import connections
    from django.utils import timezone

    connection = connections[using]
    table = table_sql(connection)
    now_db = dt(connection, timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = 'queued', reclaims = reclaims + 1, updated_at = %s, "
            "lease_owner = NULL, lease_until = NULL, claim_token = NULL "
            "WHERE status = 'running' AND lease_until < %s AND queue = %s",
            [now_db, now_db, queue],
        )
        return int(cursor.rowcount)


def extend_leases(using: str, owner: str, held: list[tuple[int, str]], lease_s: float) -> int:
    from django.db import connections
    from django.utils import timezone

    connection = connections[using]
    table = table_sql(connection)
    now = timezone.now()
    until_db = dt(connection, now + timedelta(seconds=lease_s))
    extended = 0
    with connection.cursor() as cursor:
        for start in range(0, len(held), _LEASE_CHUNK):
            chunk = held[start : start + _LEASE_CHUNK]
            ids = [job_id for job_id, _ in chunk]
            tokens = sorted({token for _, token in chunk})
            id_marks = ", ".join(["%s"] * len(ids))
            token_marks = ", ".join(["%s"] * len(tokens))
            cursor.execute(
                f"UPDATE {table} SET lease_until = %s WHERE status = 'running' AND lease_owner = %s "
                f"AND id IN ({id_marks}) AND claim_token IN ({token_marks})",
                [until_db, owner, *ids, *tokens],
            )
            extended += int(cursor.rowcount)
    return extended


def release_token(using: str, token: str) -> int:
    """Give back every row of one claim (a claim whose fetch was cancelled)."""
    from django.db import connections
    from django.utils import timezone

    connection = connections[using]
    table = table_sql(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = 'queued', attempts = attempts - 1, updated_at = %s, "
            "lease_owner = NULL, lease_until = NULL, claim_token = NULL "
            "WHERE claim_token = %s AND status = 'running'",
            [dt(connection, timezone.now()), token],
        )
        return int(cursor.rowcount)


def prune_done(using: str, queue: str, retention_s: float, *, max_batches: int, batch_size: int) -> int:
    from django.db import connections
    from django.utils import timezone

    connection = connections[using]
    table = table_sql(connection)
    cutoff_db = dt(connection, timezone.now() - timedelta(seconds=retention_s))
    deleted = 0
    with connection.cursor() as cursor:
        for _ in range(max_batches):
            cursor.execute(
                f"SELECT id FROM {table} WHERE status = 'done' AND finished_at < %s AND queue = %s LIMIT %s",
                [cutoff_db, queue, batch_size],
            )
            ids = [int(r[0]) for r in cursor.fetchall()]
            if not ids:
                break
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(f"DELETE FROM {table} WHERE status = 'done' AND id IN ({marks})", ids)
            deleted += int(cursor.rowcount)
            if len(ids) < batch_size:
                break
    return deleted
