"""Settling claimed jobs (ack, retry, fail, release, dead-letter), fenced and batched.

Every statement carries ``claim_token = <token of the claim>`` and ``status =
'running'``: a worker whose lease expired (and whose row was reclaimed and maybe
claimed again by another worker) changes nothing; its operation reports ``False``.

``SettleBatcher`` is a group commit: operations queue up while one flush is in flight
and the next flush takes them all in one transaction. Where claims share the writer's
connection (SQLite), a claim asked for meanwhile joins that transaction too, so
settling batch N and claiming batch N+1 cost one commit, not two. ``await`` returns once the
operation is durable, so a worker killed after an ack never re-runs that job, and the
number of un-acked jobs is bounded by the number of deliveries in flight.

A settlement is the outcome of a handler that already ran: when writing it fails
transiently (SQLite busy, a deadlock, a dropped connection) the write is tried again,
never the handler. The jobs stay held meanwhile, so their leases keep being extended.
Only ``stop_retrying`` (the queue closing, after a grace period) ends the retries.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
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
    # ack: False when the job has no dedupe key, so the UPDATE leaves that column alone
    clear_dedupe_key: bool = True
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
            dedupe_sql = "dedupe_key = NULL, " if any(op.clear_dedupe_key for _, op in group) else ""
            cursor.execute(
                f"UPDATE {table} SET status = 'done', finished_at = %s, updated_at = %s, "
                f"{dedupe_sql}{results_sql}{_CLEAR_LEASE} "
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


Claim = tuple[Callable[[], Any], "concurrent.futures.Future[Any]"]


class SettleBatcher:
    """Group commit of settle operations (and claims joining them) on one DB thread."""

    def __init__(self, thread: DBThread, source_name: str, on_settled: Callable[[SettleOp], None]) -> None:
        self._thread = thread
        self._source_name = source_name
        self._on_settled = on_settled
        # shared with the DB thread, which takes the next batch itself (under the lock)
        self._lock = threading.Lock()
        self._pending: list[SettleOp] = []
        self._claims: list[Claim] = []
        self._flushing = False  # a drain is under way: the next submit only queues
        self._failed: list[SettleOp] = []  # the batch whose write raised on the DB thread
        self._idle = asyncio.Event()
        self._idle.set()
        self._stop_retrying = False
        self._drain_task: asyncio.Task[None] | None = None

    async def submit(self, op: SettleOp) -> bool:
        loop = asyncio.get_running_loop()
        op.future = loop.create_future()
        with self._lock:
            self._pending.append(op)
            start = not self._flushing
            self._flushing = True
        if start:
            self._idle.clear()
            self._drain_task = loop.create_task(self._drain(loop))
        return await op.future

    def claim_with_next_flush(self, work: Callable[[], Any]) -> concurrent.futures.Future[Any] | None:
        """Run ``work`` (a claim) in the drain's next transaction, after its settlements.

        None when no drain is under way: the caller claims on its own then. ``work``
        runs in a savepoint, so a failing claim fails alone and the settlements still
        commit; the future is resolved once the transaction is durable, as a claim of
        its own would be. A claim never waits behind a long drain this way.
        """
        with self._lock:
            if not self._flushing:
                return None
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self._claims.append((work, future))
            return future

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write until nothing is pending.

        The DB thread takes batch after batch itself (``_drain_sync``): the next
        transaction starts as soon as the last one committed, not after a trip through
        a busy event loop. A batch whose write raised comes back here, to be written
        again after a pause on the loop, or failed.
        """
        from django.db import DatabaseError

        while True:
            try:
                await asyncio.wrap_future(self._thread.submit(self._drain_sync, loop))
                break  # nothing pending any more: the thread said so under the lock
            except BaseException as exc:
                batch, self._failed = self._failed, []
                if not batch:  # the thread could not run it (closing): fail what waits
                    with self._lock:
                        batch, self._pending, self._flushing = self._pending, [], False
                        claims, self._claims = self._claims, []
                    for _work, future in claims:
                        future.set_exception(exc)
                    self._fail(batch, exc)
                    if not isinstance(exc, Exception):
                        raise
                    break
                try:
                    if not isinstance(exc, DatabaseError):
                        raise
                    results = await self._write_until_durable(batch, exc)
                except BaseException as final:
                    self._fail(batch, final)
                    if not isinstance(final, Exception):
                        raise
                    continue
                self._resolve(batch, results)
        if not self._flushing:
            self._idle.set()

    def _drain_sync(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._lock:
                batch = self._pending[:_MAX_OPS_PER_FLUSH]
                del self._pending[:_MAX_OPS_PER_FLUSH]
                claims, self._claims = self._claims, []
                if not batch and not claims:
                    self._flushing = False
                    return
            try:
                results = _flush_sync(self._thread.using, batch, claims)
            except BaseException as exc:
                for _work, future in claims:
                    if not future.done():
                        future.set_exception(exc)
                self._failed = batch
                raise
            try:
                loop.call_soon_threadsafe(self._resolve, batch, results)
            except RuntimeError:  # the loop is gone: nobody waits for these any more
                return

    def _resolve(self, batch: list[SettleOp], results: list[bool]) -> None:
        for op, ok in zip(batch, results, strict=True):
            self._on_settled(op)
            if op.future is not None and not op.future.done():
                op.future.set_result(ok)

    def _fail(self, batch: list[SettleOp], exc: BaseException) -> None:
        for op in batch:
            self._on_settled(op)
            if op.future is not None and not op.future.done():
                op.future.set_exception(exc)

    async def _write_until_durable(self, batch: list[SettleOp], error: Exception) -> list[bool]:
        """Write ``batch`` again after its first try raised ``error``, while that is transient.

        Trying again is safe: every statement is fenced on its claim token, so a
        transaction that did commit before its connection dropped matches nothing the
        second time (those operations report ``False``; nothing is written twice).
        """
        from django.db import DatabaseError

        delay_s = _RETRY_FIRST_DELAY_S
        failures = 0
        while True:
            if not is_transient_db_error(error) or self._stop_retrying:
                raise wrap_db_error(
                    error, operation=ConnectorOperation.ACK, source_name=self._source_name
                ) from error
            failures += 1
            if failures == 3:  # a lock held for a moment is normal; say so when it lasts
                logger.warning(
                    "settling %d job(s) of %s failed (%s); trying the write again, not the handler",
                    len(batch), self._source_name, error,
                )  # fmt: skip
            # on the event loop, not the DB thread: lease renewals get their turn meanwhile
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, _RETRY_MAX_DELAY_S)
            try:
                return await asyncio.wrap_future(self._thread.submit(_flush_sync, self._thread.using, batch))
            except DatabaseError as exc:
                error = exc

    def stop_retrying(self) -> None:
        """Let a settlement that keeps failing fail now (the queue is closing)."""
        self._stop_retrying = True

    async def wait_idle(self) -> None:
        await self._idle.wait()


def _flush_sync(using: str, batch: list[SettleOp], claims: list[Claim] | None = None) -> list[bool]:
    from django.db import connections, transaction
    from django.utils import timezone

    from django_onestep.results.notify import notify_finished

    connection = connections[using]
    claimed: list[tuple[concurrent.futures.Future[Any], Any, BaseException | None]] = []
    with transaction.atomic(using=using):
        results = _apply(connection, batch, timezone.now())
        ended = [op for op, ok in zip(batch, results, strict=True) if ok and op.kind in _ENDS]
        notify_finished(connection, [op.job_id for op in ended])
        if ended:
            for hook in _settle_hooks:
                hook(connection, ended)
        for work, future in claims or ():
            try:
                with transaction.atomic(using=using):  # a savepoint: a failed claim fails alone
                    claimed.append((future, work(), None))
            except Exception as failure:
                claimed.append((future, None, failure))
    # durable now: hand the claimed rows over (a rolled-back transaction hands none)
    for future, rows, error in claimed:
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(rows)
    return results
