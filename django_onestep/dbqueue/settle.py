"""Settling claimed jobs (ack, retry, fail, release, dead-letter), fenced and batched.

Every statement carries ``claim_token = <token of the claim>`` and ``status =
'running'``: a worker whose lease expired (and whose row was reclaimed and maybe
claimed again by another worker) changes nothing; its operation reports ``False``.

``SettleBatcher`` is a group commit: operations queue up while one flush is in flight
and the next flush takes them all in one transaction. ``await`` returns once the
operation is durable, so a worker killed after an ack never re-runs that job, and the
number of un-acked jobs is bounded by the number of deliveries in flight.

A settlement is the outcome of a handler that already ran: when writing it fails
transiently (SQLite busy, a deadlock, a dropped connection) the write is tried again,
never the handler. The jobs stay held meanwhile, so their leases keep being extended.
Only ``stop_retrying`` (the queue closing, after a grace period) ends the retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django_onestep.core.errors import ConnectorOperation
from django_onestep.dbqueue.claims import dt, table_sql
from django_onestep.orm.dbthread import DBThread, is_transient_db_error, wrap_db_error

__all__ = ["SettleBatcher", "SettleOp", "register_settle_hook"]

logger = logging.getLogger("django_onestep.dbqueue")

_MAX_OPS_PER_FLUSH = 500
_ENDS = frozenset({"ack", "fail", "dead", "aborted"})  # settlements that finish a job
_RETRY_FIRST_DELAY_S = 0.005
_RETRY_MAX_DELAY_S = 1.0


@dataclass
class SettleOp:
    kind: str  # ack | retry | fail | release | dead | aborted
    job_id: int
    token: str
    delay_s: float | None = None
    error: str = ""
    # ack: the handler's return value as JSON text, when the task stores results;
    # fail/dead/aborted: {"type", "message", "traceback"} as JSON text for the job's handle
    result_json: str | None = None
    error_json: str | None = None
    # dead: builds the DeadLetter row (called inside the transaction with the job's
    # first_failed_at); returns an unsaved model instance.
    dead_letter: Callable[[datetime | None], Any] | None = None
    future: asyncio.Future[bool] | None = field(default=None, repr=False)


# Called inside the settle transaction with the operations that finished a job, so what
# they write (a workflow's next step) commits or rolls back with the settlement itself.
_settle_hooks: list[Callable[[Any, list[SettleOp]], None]] = []


def register_settle_hook(hook: Callable[[Any, list[SettleOp]], None]) -> None:
    """Run ``hook(connection, ended_ops)`` in every settle transaction (once per hook)."""
    if hook not in _settle_hooks:
        _settle_hooks.append(hook)


_CLEAR_LEASE = "lease_owner = NULL, lease_until = NULL, claim_token = NULL"


def json_param(connection: Any) -> str:
    """A placeholder for JSON text: PostgreSQL's jsonb column needs the cast."""
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


def _apply(connection: Any, ops: list[SettleOp], now: datetime) -> list[bool]:
    """Run ``ops`` in the current transaction; True where the fence matched."""
    table = table_sql(connection)
    now_db = dt(connection, now)
    results: dict[int, bool] = {}
    acks: dict[str, list[tuple[int, SettleOp]]] = {}
    for index, op in enumerate(ops):
        if op.kind == "ack":
            acks.setdefault(op.token, []).append((index, op))
            continue
        results[index] = _apply_one(connection, table, op, now, now_db)
    with connection.cursor() as cursor:
        for token, group in acks.items():
            ids = [op.job_id for _, op in group]
            marks = ", ".join(["%s"] * len(ids))
            results_sql, results_params = _results_case(connection, [op for _, op in group])
            cursor.execute(
                f"UPDATE {table} SET status = 'done', finished_at = %s, updated_at = %s, "
                f"dedupe_key = NULL, {results_sql}{_CLEAR_LEASE} "
                f"WHERE claim_token = %s AND status = 'running' AND id IN ({marks})",
                [now_db, now_db, *results_params, token, *ids],
            )
            if cursor.rowcount == len(ids):
                matched = set(ids)
            else:  # some leases were lost: find out which acks counted
                cursor.execute(
                    f"SELECT id FROM {table} WHERE status = 'done' AND finished_at = %s AND id IN ({marks})",
                    [now_db, *ids],
                )
                matched = {int(r[0]) for r in cursor.fetchall()}
            for index, op in group:
                results[index] = op.job_id in matched
    return [results[i] for i in range(len(ops))]


def _results_case(connection: Any, ops: list[SettleOp]) -> tuple[str, list[Any]]:
    """``result = CASE id WHEN ... END, `` for the acks that carry a result (one statement)."""
    kept = [op for op in ops if op.result_json is not None]
    if not kept:
        return "", []
    placeholder = json_param(connection)
    whens = " ".join(f"WHEN %s THEN {placeholder}" for _ in kept)
    return f"result = CASE id {whens} ELSE NULL END, ", [
        v for op in kept for v in (op.job_id, op.result_json)
    ]


def _apply_one(connection: Any, table: str, op: SettleOp, now: datetime, now_db: Any) -> bool:
    from django.db import transaction

    fence = "WHERE id = %s AND claim_token = %s AND status = 'running'"
    fence_params = [op.job_id, op.token]
    with connection.cursor() as cursor:
        if op.kind == "retry":
            available = now + timedelta(seconds=max(op.delay_s or 0.0, 0.0))
            cursor.execute(
                f"UPDATE {table} SET status = 'queued', available_at = %s, updated_at = %s, "
                f"first_failed_at = COALESCE(first_failed_at, %s), last_error = %s, {_CLEAR_LEASE} {fence}",
                [dt(connection, available), now_db, now_db, op.error, *fence_params],
            )
            return bool(cursor.rowcount == 1)
        if op.kind == "release":
            # never started: the claim does not count as an attempt
            cursor.execute(
                f"UPDATE {table} SET status = 'queued', attempts = attempts - 1, updated_at = %s, "
                f"{_CLEAR_LEASE} {fence}",
                [now_db, *fence_params],
            )
            return bool(cursor.rowcount == 1)
        if op.kind in ("fail", "aborted"):
            status = "failed" if op.kind == "fail" else "aborted"
            cursor.execute(
                f"UPDATE {table} SET status = '{status}', finished_at = %s, updated_at = %s, "
                f"first_failed_at = COALESCE(first_failed_at, %s), last_error = %s, dedupe_key = NULL, "
                f"error = {json_param(connection)}, {_CLEAR_LEASE} {fence}",
                [now_db, now_db, now_db, op.error, op.error_json, *fence_params],
            )
            return bool(cursor.rowcount == 1)
    if op.kind == "dead":
        assert op.dead_letter is not None
        from django_onestep.models import Job

        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            rows = list(
                Job.objects.using(connection.alias)
                .filter(id=op.job_id, claim_token=op.token, status="running")
                .values_list("first_failed_at", flat=True)
            )
            if not rows:
                return False  # lost the lease: the new owner decides, nothing is written
            cursor.execute(
                f"UPDATE {table} SET status = 'dead', finished_at = %s, updated_at = %s, "
                f"first_failed_at = COALESCE(first_failed_at, %s), last_error = %s, dedupe_key = NULL, "
                f"error = {json_param(connection)}, {_CLEAR_LEASE} {fence}",
                [now_db, now_db, now_db, op.error, op.error_json, *fence_params],
            )
            op.dead_letter(rows[0]).save(using=connection.alias)
        return True
    raise ValueError(f"unknown settle operation {op.kind!r}")


class SettleBatcher:
    """Group commit of settle operations on one DB thread."""

    def __init__(self, thread: DBThread, source_name: str, on_settled: Callable[[SettleOp], None]) -> None:
        self._thread = thread
        self._source_name = source_name
        self._on_settled = on_settled
        self._pending: list[SettleOp] = []
        self._flushing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._stop_retrying = False

    async def submit(self, op: SettleOp) -> bool:
        loop = asyncio.get_running_loop()
        op.future = loop.create_future()
        self._pending.append(op)
        if not self._flushing:
            self._start_flush(loop)
        return await op.future

    def _start_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending[:_MAX_OPS_PER_FLUSH]
        del self._pending[:_MAX_OPS_PER_FLUSH]
        self._flushing = True
        self._idle.clear()
        task = loop.create_task(self._flush(batch))
        task.add_done_callback(lambda _t: self._after_flush(loop))

    def _after_flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flushing = False
        if self._pending and not loop.is_closed():
            self._start_flush(loop)
        else:
            self._idle.set()

    async def _flush(self, batch: list[SettleOp]) -> None:
        try:
            results = await self._write_until_durable(batch)
        except BaseException as exc:
            for op in batch:
                self._on_settled(op)
                if op.future is not None and not op.future.done():
                    op.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for op, ok in zip(batch, results, strict=True):
            self._on_settled(op)
            if op.future is not None and not op.future.done():
                op.future.set_result(ok)

    async def _write_until_durable(self, batch: list[SettleOp]) -> list[bool]:
        """One transaction for ``batch``, tried again while the failure is transient.

        Trying again is safe: every statement is fenced on its claim token, so a
        transaction that did commit before its connection dropped matches nothing the
        second time (those operations report ``False``; nothing is written twice).
        """
        from django.db import DatabaseError

        delay_s = _RETRY_FIRST_DELAY_S
        failures = 0
        while True:
            try:
                return await asyncio.wrap_future(self._thread.submit(_flush_sync, self._thread.using, batch))
            except DatabaseError as exc:
                if not is_transient_db_error(exc) or self._stop_retrying:
                    raise wrap_db_error(
                        exc, operation=ConnectorOperation.ACK, source_name=self._source_name
                    ) from exc
                failures += 1
                if failures == 3:  # a lock held for a moment is normal; say so when it lasts
                    logger.warning(
                        "settling %d job(s) of %s failed (%s); trying the write again, not the handler",
                        len(batch), self._source_name, exc,
                    )  # fmt: skip
            # on the event loop, not the DB thread: lease renewals get their turn meanwhile
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, _RETRY_MAX_DELAY_S)

    def stop_retrying(self) -> None:
        """Let a settlement that keeps failing fail now (the queue is closing)."""
        self._stop_retrying = True

    async def wait_idle(self) -> None:
        await self._idle.wait()


def _flush_sync(using: str, batch: list[SettleOp]) -> list[bool]:
    from django.db import connections, transaction
    from django.utils import timezone

    from django_onestep.results.notify import notify_finished

    connection = connections[using]
    with transaction.atomic(using=using):
        results = _apply(connection, batch, timezone.now())
        ended = [op for op, ok in zip(batch, results, strict=True) if ok and op.kind in _ENDS]
        notify_finished(connection, [op.job_id for op in ended])
        if ended:
            for hook in _settle_hooks:
                hook(connection, ended)
        return results
