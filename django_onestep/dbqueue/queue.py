"""``DatabaseQueue``: the durable queue in the project's own database.

Hot path: ``fetch`` claims up to ``batch_size`` rows in one statement or transaction
on the queue's claim thread, hands out ``limit`` and keeps the rest for the next
fetches (``prefetch.py``); settlements are group-committed on the ack thread (the same
thread on SQLite, whose single writer prefers it). While idle, each ``fetch`` probes
with a cheap read, waits one poll interval (``poll_interval_s``, backing off to
``max_idle_poll_s`` after ``idle_backoff_after_s`` without work) and
returns empty, so the runner notices an empty queue within one interval; it wakes at
once when this process enqueues, and on PostgreSQL when any process does (LISTEN/NOTIFY,
``wakeups.py``). Background loops extend the leases of held jobs,
reclaim expired leases of any worker and prune old ``done`` rows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django_onestep.conf import get_settings
from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError, ConnectorOperation
from django_onestep.core.validation import (
    non_negative_int,
    optional_positive_int,
    optional_positive_number,
    positive_int,
    positive_number,
)
from django_onestep.dbqueue import maintenance, upkeep
from django_onestep.dbqueue.claims import claim_rows, probe_due
from django_onestep.dbqueue.concurrency_keys import KeyFunction, register_key
from django_onestep.dbqueue.delivery import DatabaseDelivery
from django_onestep.dbqueue.enqueue import (
    check_send_options,
    insert_job,
    insert_jobs,
    notify_enqueued,
    register_listener,
)
from django_onestep.dbqueue.flow_claims import claim_with_flow, ensure_flow_row
from django_onestep.dbqueue.prefetch import Prefetched
from django_onestep.dbqueue.rate_limit import RateLimit, parse_rate_limit
from django_onestep.dbqueue.settle import SettleBatcher, SettleOp
from django_onestep.dbqueue.wakeups import PostgresListener, acquire_listener, release_listener
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread
from django_onestep.results.handle import JobHandle

__all__ = ["DatabaseQueue"]


_UNSET: Any = object()
IDLE_POLL_S = 0.05
LISTENING_IDLE_POLL_S = 0.25


def _refuse_event_loop(method: str) -> None:
    """The sync enqueue uses the ORM: say what to do instead of Django's generic error."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    if os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
        return
    raise TypeError(
        f"DatabaseQueue.{method}() is synchronous (it writes in the caller's transaction); "
        "in async code use 'await queue.publish(payload, ...)' or 'await task.aenqueue(payload)'"
    )


class DatabaseQueue(Source, Sink):
    """A Source and Sink over ``django_onestep.models.Job`` rows with ``queue=name``.

    ``send(payload, ...)`` (sync) writes a job in the caller's transaction and returns
    its id; ``send(envelope)`` (the Sink API, awaited by the runtime) and ``await
    publish(...)`` write in autocommit on the queue's own thread.
    """

    supports_manual_run = False
    fetch_is_cancel_safe = True

    def __init__(
        self,
        name: str,
        *,
        using: str | None = None,
        batch_size: int | None = None,
        lease_s: float | None = None,
        poll_interval_s: float | None = None,
        max_deliveries: int | None = _UNSET,
        done_retention_s: float | None = _UNSET,
        max_idle_poll_s: float | None = None,
        idle_backoff_after_s: float = 1.0,
        fetch_wait_s: float = 1.0,
        prune_interval_s: float = 60.0,
        progress_interval_s: float = 1.0,
        prefetch: int | None = None,
        prefetch_hold_s: float = 1.0,
        rate_limit: str | None = None,
        concurrency_key: KeyFunction | None = None,
        max_per_key: int | None = None,
    ) -> None:
        if not isinstance(name, str) or not 0 < len(name) <= 100:
            raise ConfigurationError(
                f"DatabaseQueue: name must be a string of 1 to 100 characters, got {name!r}"
            )
        Source.__init__(self, name)
        self.using: str = using or get_settings().DATABASE
        self.batch_size = positive_int("DatabaseQueue batch_size", batch_size or get_settings().BATCH_SIZE)
        self.lease_s = positive_number("DatabaseQueue lease_s", lease_s or get_settings().LEASE_S)
        self.poll_interval_s = positive_number(
            "DatabaseQueue poll_interval_s", poll_interval_s or get_settings().POLL_INTERVAL_S
        )
        if max_deliveries is _UNSET:
            max_deliveries = get_settings().MAX_DELIVERIES
        self.max_deliveries: int | None = optional_positive_int(
            "DatabaseQueue max_deliveries", max_deliveries
        )
        if done_retention_s is _UNSET:
            done_retention_s = get_settings().DONE_JOB_RETENTION_S
        self.done_retention_s: float | None = optional_positive_number(
            "DatabaseQueue done_retention_s", done_retention_s
        )
        self.max_idle_poll_s: float | None = (
            None
            if max_idle_poll_s is None
            else positive_number("DatabaseQueue max_idle_poll_s", max_idle_poll_s)
        )
        self.idle_backoff_after_s = float(idle_backoff_after_s)
        self.fetch_wait_s = positive_number("DatabaseQueue fetch_wait_s", fetch_wait_s)
        self.prune_interval_s = positive_number("DatabaseQueue prune_interval_s", prune_interval_s)
        self.progress_interval_s = positive_number("DatabaseQueue progress_interval_s", progress_interval_s)
        self._prefetched = Prefetched(
            self.batch_size if prefetch is None else non_negative_int("DatabaseQueue prefetch", prefetch),
            positive_number("DatabaseQueue prefetch_hold_s", prefetch_hold_s),
        )
        # global across workers: a window of claims in the database (rate_limit.py)
        self.rate_limit: RateLimit | None = parse_rate_limit("DatabaseQueue rate_limit", rate_limit)
        self.max_per_key: int | None = register_key(name, concurrency_key, max_per_key)
        self._flow_row_ready = False
        self._prefetch_timer: asyncio.TimerHandle | None = None
        self._releasing: set[asyncio.Task[None]] = set()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._claim_thread: DBThread | None = None
        self._ack_thread: DBThread | None = None
        self._settler: SettleBatcher | None = None
        self._held: dict[int, DatabaseDelivery] = {}
        # claims whose fetch was cancelled while the statement ran: token -> its future
        self._cancelled_claims: dict[str, concurrent.futures.Future[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake_event: asyncio.Event | None = None
        self._idle_since: float | None = None
        self._background: list[asyncio.Task[None]] = []
        self._listener: PostgresListener | None = None
        self._next_sweep_at = 0.0
        self._delayed_due: dict[int, float] = {}  # job id -> loop time its retry is due

    def __repr__(self) -> str:
        return f"DatabaseQueue({self.name!r}, using={self.using!r})"

    # ----- enqueue ---------------------------------------------------------------

    # Django callers need a sync `send(payload) -> job id`; onestep's Sink.send(envelope) stays
    # awaitable for the runtime: both shapes on one name, hence the override.
    def send(self, payload_or_envelope: Any, **options: Any) -> Any:  # type: ignore[override]
        """``send(payload, *, delay_s, run_at, priority, dedupe_key, meta, expires_s,
        expires_at) -> JobHandle`` (the job id, with its status and result).

        Sync, in the caller's transaction. Given an ``Envelope`` (the Sink API the
        runtime awaits), it returns an awaitable instead: see ``asend``.
        """
        if isinstance(payload_or_envelope, Envelope):
            return self.asend(payload_or_envelope, **options)
        _refuse_event_loop("send")
        check_send_options(self.name, "send", options)
        return JobHandle(insert_job(self.name, self.using, payload_or_envelope, **options), using=self.using)

    def enqueue(self, payload: Any, **options: Any) -> JobHandle:
        """Alias of the sync ``send(payload, ...)`` for code that prefers a verb."""
        _refuse_event_loop("enqueue")
        check_send_options(self.name, "enqueue", options)
        return JobHandle(insert_job(self.name, self.using, payload, **options), using=self.using)

    def send_many(
        self,
        payloads: Iterable[Any],
        *,
        delay_s: float | None = None,
        run_at: datetime | None = None,
        priority: int = 0,
    ) -> list[JobHandle]:
        """Bulk insert in the caller's transaction (batches of 500); returns their handles."""
        _refuse_event_loop("send_many")
        ids = insert_jobs(self.name, self.using, payloads, delay_s=delay_s, run_at=run_at, priority=priority)
        return [JobHandle(job_id, using=self.using) for job_id in ids]

    async def asend(self, envelope: Envelope, **options: Any) -> JobHandle:
        """Write ``envelope`` (body, meta, attempts) as a new job; returns its id."""
        return await self.publish(envelope.body, meta=envelope.meta, attempts=envelope.attempts, **options)

    async def publish(  # type: ignore[override]
        self,
        body: Any,
        *,
        meta: Mapping[str, Any] | None = None,
        attempts: int = 0,
        delay_s: float | None = None,
        run_at: datetime | None = None,
        priority: int = 0,
        dedupe_key: str | None = None,
        expires_s: float | None = None,
        expires_at: datetime | None = None,
    ) -> JobHandle:
        """Async enqueue (autocommit, on the queue's thread); returns its ``JobHandle``."""
        thread = self._ensure_threads()[1]
        job_id = await thread.run(
            lambda: insert_job(
                self.name,
                self.using,
                body,
                meta=meta,
                attempts=attempts,
                delay_s=delay_s,
                run_at=run_at,
                priority=priority,
                dedupe_key=dedupe_key,
                expires_s=expires_s,
                expires_at=expires_at,
            ),
            operation=ConnectorOperation.SEND,
            source_name=self.name,
        )
        return JobHandle(job_id, using=self.using)

    # ----- lifecycle ----------------------------------------------------------------

    def _ensure_threads(self) -> tuple[DBThread, DBThread]:
        if self._claim_thread is None or self._ack_thread is None:
            # shared per database alias; on SQLite claim and ack share one thread
            self._claim_thread = acquire_thread(self.using, "claim")
            self._ack_thread = acquire_thread(self.using, "write")
            self._settler = SettleBatcher(self._ack_thread, self.name, self._forget)
        return self._claim_thread, self._ack_thread

    async def open(self) -> None:
        if self.is_open:
            return
        self._ensure_threads()
        self._loop = asyncio.get_running_loop()
        self._wake_event = asyncio.Event()
        self._idle_since = None  # a reopened queue polls fast again, not at the old backoff
        register_listener(self)
        if self._listener is None:
            self._listener = acquire_listener(self.using)
        self._background = [
            asyncio.create_task(upkeep.lease_loop(self), name=f"onestep-lease-{self.name}"),
            asyncio.create_task(upkeep.prune_loop(self), name=f"onestep-prune-{self.name}"),
        ]
        self._set_open_state(True)

    async def close(self) -> None:
        """Release held-but-unstarted jobs, wait for pending settlements, close threads."""
        if self._settler is not None:
            # a settlement being retried gets one lease (renewals still run) before it may fail
            try:
                await asyncio.wait_for(self._settler.wait_idle(), self.lease_s)
            except TimeoutError:
                self._settler.stop_retrying()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._background = []
        self._stop_prefetch()
        for delivery in list(self._held.values()):
            if not delivery.started and delivery.settled is None:
                with contextlib.suppress(Exception):
                    await delivery.release_unstarted()
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)
        await self._release_cancelled_claims()
        if self._settler is not None:
            await self._settler.wait_idle()
        await self._release_threads()
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await asyncio.to_thread(release_listener, listener)
        self._set_open_state(False)

    async def _release_threads(self) -> None:
        threads = [t for t in (self._claim_thread, self._ack_thread) if t is not None]
        self._claim_thread = self._ack_thread = self._settler = None
        for thread in threads:
            await asyncio.to_thread(release_thread, thread)

    def wake(self) -> None:
        """Make a waiting ``fetch`` look again now (thread-safe)."""
        loop, event = self._loop, self._wake_event
        if loop is None or event is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)

    # ----- fetch --------------------------------------------------------------------

    async def fetch(self, limit: int) -> list[Delivery]:
        if not self.is_open:
            await self.open()
        claim_thread = self._ensure_threads()[0]
        loop = asyncio.get_running_loop()
        limit = max(1, min(int(limit), self.batch_size))
        kept: list[DatabaseDelivery] = self._prefetched.take(limit)
        if len(kept) == limit:
            return list(kept)
        try:
            return list(await self._top_up(claim_thread, loop, kept, limit - len(kept)))
        except BaseException:
            # A failed sweep or claim (a deadlock, a cancel) must not drop the jobs
            # taken from the kept ones: they are claimed, and nothing else would run them.
            self._prefetched.put_back(kept, loop.time())
            self._watch_kept(loop)
            raise

    async def _top_up(
        self,
        claim_thread: DBThread,
        loop: asyncio.AbstractEventLoop,
        kept: list[DatabaseDelivery],
        limit: int,
    ) -> list[DatabaseDelivery]:
        """``kept`` plus up to ``limit`` newly claimed jobs: one batch never waits for the next."""
        deadline = loop.time() + self.fetch_wait_s
        woken = False
        while True:
            if loop.time() >= self._next_sweep_at:
                self._next_sweep_at = loop.time() + max(self.lease_s / 4, 0.25)
                await claim_thread.run(
                    maintenance.sweep, self.using, self.name,
                    operation=ConnectorOperation.FETCH, source_name=self.name,
                )  # fmt: skip
            if self._wake_event is not None:
                self._wake_event.clear()
            ahead = min(self.batch_size - limit, self._prefetched.target)
            deliveries = await self._claim(
                # woken: a job was just committed, the probe would only cost a round trip
                claim_thread,
                limit + ahead,
                probe_first=self._idle_since is not None and not woken,
            )
            if deliveries:
                self._idle_since = None
                if len(deliveries) > limit:
                    self._keep_ahead(deliveries[limit:], loop)
                return kept + deliveries[:limit]
            if kept:
                return kept
            now = loop.time()
            if self._idle_since is None:
                self._idle_since = now
            if woken or now >= deadline:
                return []
            # One idle wait per call, then report "empty": the runner calls again at
            # once (same poll cadence), and `serve(until_idle=True)` / `--once` sees the
            # queue empty within one poll interval instead of after `fetch_wait_s`.
            woken = await self._sleep_idle(now, deadline)
            if not woken:
                return []

    def _idle_poll_ceiling_s(self) -> float:
        """Backed-off idle poll: 50 ms where polls are the only wake-up from other
        processes (MariaDB, SQLite: p50 wake-up ~35 ms for 20 cheap probes/s), 250 ms
        where PostgreSQL's NOTIFY wakes the queue and polls are only the safety net."""
        if self.max_idle_poll_s is not None:
            return self.max_idle_poll_s
        return LISTENING_IDLE_POLL_S if self._listener is not None else IDLE_POLL_S

    async def _sleep_idle(self, now: float, deadline: float) -> bool:
        """Wait one (backed-off) poll interval; True when ``wake()`` ended it early."""
        idle_for = now - (self._idle_since or now)
        interval = self.poll_interval_s
        if idle_for > self.idle_backoff_after_s:
            exponent = min((idle_for - self.idle_backoff_after_s) * 4, 20.0)
            interval = max(
                self.poll_interval_s, min(self._idle_poll_ceiling_s(), self.poll_interval_s * 2**exponent)
            )
        timeout = max(0.0, min(interval, deadline - now))
        if self._wake_event is None:
            await asyncio.sleep(timeout)
            return False
        try:
            await asyncio.wait_for(self._wake_event.wait(), timeout)
        except TimeoutError:
            return False
        self._idle_since = None  # woken (a local enqueue, the last held job settled): poll fast again
        return True

    # ----- prefetch ------------------------------------------------------------------
    def claim_no_more_than_asked(self) -> None:
        """Turn claim-ahead off: each fetch claims at most what the runner asked for.

        A pool child that retires after ``--max-tasks-per-child`` tasks gates its fetches
        on its free slots: jobs claimed ahead would only be given back when it exits.
        """
        self._prefetched.limit = self._prefetched.target = 0

    def _keep_ahead(self, deliveries: list[DatabaseDelivery], loop: asyncio.AbstractEventLoop) -> None:
        self._prefetched.keep(deliveries, loop.time())
        self._watch_kept(loop)

    def _watch_kept(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make sure a timer gives back what stays kept past ``prefetch_hold_s``."""
        if self._prefetch_timer is None and len(self._prefetched):
            self._prefetch_timer = loop.call_later(self._prefetched.hold_s, self._release_stale, loop)

    def _release_stale(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give back the jobs kept past ``prefetch_hold_s``; look again while any remain."""
        self._prefetch_timer = None
        for delivery in self._prefetched.expired(loop.time()):
            self._release_soon(delivery)
        if len(self._prefetched):
            self._prefetch_timer = loop.call_later(self._prefetched.hold_s / 4, self._release_stale, loop)

    def _release_soon(self, delivery: DatabaseDelivery) -> None:
        task = asyncio.ensure_future(delivery.release_unstarted())
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    def _stop_prefetch(self) -> None:
        """Closing: forget the kept jobs (close() releases them with every unstarted one)."""
        if self._prefetch_timer is not None:
            self._prefetch_timer.cancel()
            self._prefetch_timer = None
        self._prefetched.drain()

    async def _claim(self, thread: DBThread, limit: int, *, probe_first: bool) -> list[DatabaseDelivery]:
        from django.utils import timezone

        token = uuid.uuid4().hex
        lease_s = self.lease_s

        def work() -> list[Any]:
            from django.db import connections

            connection = connections[self.using]
            now = timezone.now()
            if probe_first and not probe_due(connection, self.name, now):
                return []
            lease_until = now + timedelta(seconds=lease_s)
            if self.rate_limit is not None or self.max_per_key is not None:
                if not self._flow_row_ready:
                    ensure_flow_row(self.using, self.name)
                    self._flow_row_ready = True
                return claim_with_flow(
                    connection, queue=self.name, limit=limit, token=token, owner=self.worker_id,
                    now=now, lease_until=lease_until, rate=self.rate_limit, max_per_key=self.max_per_key,
                )  # fmt: skip
            return claim_rows(
                connection,
                queue=self.name,
                limit=limit,
                token=token,
                owner=self.worker_id,
                now=now,
                lease_until=lease_until,
            )

        future = None
        if thread is self._ack_thread and self._settler is not None:
            # one connection for both (SQLite): join the settlements' next commit
            future = self._settler.claim_with_next_flush(work)
        if future is None:
            future = thread.submit(work)
        try:
            rows = await asyncio.shield(asyncio.wrap_future(future))
        except asyncio.CancelledError:
            # the claim may still commit: give those rows back instead of stranding them
            self._cancelled_claims[token] = future
            future.add_done_callback(lambda f: self._release_after_cancel(f, token))
            raise
        except Exception as exc:
            from django.db import DatabaseError

            from django_onestep.orm.dbthread import wrap_db_error

            if isinstance(exc, DatabaseError):
                raise wrap_db_error(exc, operation=ConnectorOperation.FETCH, source_name=self.name) from exc
            raise
        deliveries: list[DatabaseDelivery] = []
        for row in rows:
            envelope = Envelope(body=row.payload, meta=row.meta, attempts=max(row.attempts - 1, 0))
            delivery = DatabaseDelivery(
                self,
                job_id=row.id,
                token=token,
                envelope=envelope,
                reclaims=row.reclaims,
                has_dedupe_key=row.has_dedupe_key,
            )
            self._held[row.id] = delivery
            self._delayed_due.pop(row.id, None)
            deliveries.append(delivery)
        return deliveries

    async def _release_cancelled_claims(self) -> None:
        """Wait for claims cancelled mid-statement and give their rows back while the
        threads still run: a claim committing after they closed would strand its rows
        until their lease ran out, with an attempt counted and no run."""
        for token, future in list(self._cancelled_claims.items()):
            with contextlib.suppress(Exception):
                rows = await asyncio.wrap_future(future)
                thread = self._ack_thread
                if rows and thread is not None:  # fenced on the token: a second release changes nothing
                    await thread.run(
                        maintenance.release_token, self.using, token,
                        operation=ConnectorOperation.ACK, source_name=self.name,
                    )  # fmt: skip
        self._cancelled_claims.clear()

    def _release_after_cancel(self, future: Any, token: str) -> None:
        if future.cancelled() or future.exception() is not None or not future.result():
            self._cancelled_claims.pop(token, None)
            return
        thread = self._ack_thread
        if thread is not None:
            with contextlib.suppress(RuntimeError):  # closed: close() releases it instead
                thread.submit(maintenance.release_token, self.using, token)
                self._cancelled_claims.pop(token, None)

    # ----- settlement -------------------------------------------------------------

    def held_claims(self) -> list[tuple[int, str]]:
        """``(job id, claim token)`` of every job this worker holds and has not settled."""
        return [(delivery.job_id, delivery.token) for delivery in self._held.values()]

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the open queue runs on (progress timers are armed there)."""
        return self._loop

    def request_aborts(self, job_ids: set[int]) -> None:
        """Stop the held jobs that were cancelled while running (on the event loop)."""
        for job_id in job_ids:
            delivery = self._held.get(job_id)
            if delivery is not None:
                delivery.request_abort()

    @property
    def write_thread(self) -> DBThread | None:
        """The thread settlements and upkeep write on; None while the queue is closed."""
        return self._ack_thread

    async def settle(self, op: SettleOp) -> bool:
        """Group-commit one settlement; True if it applied (its claim was still current)."""
        settler = self._settler
        if settler is None:
            self._ensure_threads()
            settler = self._settler
        assert settler is not None
        return await settler.submit(op)

    def note_delayed_retry(self, job_id: int, delay_s: float) -> None:
        if self._loop is not None and delay_s > 0:
            self._delayed_due[job_id] = self._loop.time() + delay_s

    def pending_count(self) -> int:
        """Delayed retries this worker scheduled that are not due yet (``until_idle`` waits)."""
        if not self._delayed_due or self._loop is None:
            return 0
        now = self._loop.time()
        for job_id in [j for j, due in self._delayed_due.items() if due < now - self.lease_s]:
            del self._delayed_due[job_id]  # due long ago: another worker took it
        return len(self._delayed_due)

    def _forget(self, op: SettleOp) -> None:
        delivery = self._held.get(op.job_id)
        if delivery is not None and delivery.token == op.token:
            del self._held[op.job_id]
            if not self._held and self._backed_off():
                # the last held job is settled while polls are slow: look again now, so
                # `--once` ends promptly after a long handler (no extra polls when busy)
                self.wake()

    def _backed_off(self) -> bool:
        loop, since = self._loop, self._idle_since
        return loop is not None and since is not None and loop.time() - since > self.idle_backoff_after_s

    # ----- retention ---------------------------------------------------------------

    def prune_sync(self, *, max_batches: int = 20, batch_size: int = 1000) -> int:
        """Delete ``done`` jobs older than ``done_retention_s``, in small batches."""
        if self.done_retention_s is None:
            return 0
        return maintenance.prune_done(
            self.using, self.name, self.done_retention_s, max_batches=max_batches, batch_size=batch_size
        )

    def notify(self) -> None:
        notify_enqueued(self.name, self.using)
