"""Worker telemetry in the database: per-minute ``TaskMetric`` windows and heartbeats.

``MetricsRecorder`` is an ``app.on_event`` handler. Handling an event only adds to an
in-memory window (no I/O); every ``flush_interval_s`` the windows are written with one
locked read-modify-write per (task, minute) that several workers can share. A failed
flush keeps the counts for the next one. ``HeartbeatWriter`` upserts this process's
``WorkerHeartbeat`` row every ``interval_s`` and marks it ``stopped`` on exit (a
one-shot run deletes it instead); it also deletes, in small batches, the rows of
workers not seen for ``retention_s`` (stopped ones, and crashed ones that never said
so), so the table does not grow with every restart.

Typical wiring (what ``onestep_worker`` does)::

    recorder = MetricsRecorder(app.name)
    app.on_event(recorder)
    heartbeat = HeartbeatWriter(app.name, task_names, in_flight=recorder.in_flight_total)
    await recorder.start(); await heartbeat.start()
    ...
    await heartbeat.stop(); await recorder.stop()
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django_onestep.conf import get_settings
from django_onestep.core.errors import ConnectorOperation
from django_onestep.orm.dbthread import (
    DBThread,
    acquire_thread,
    release_thread,
    repeat_every,
    retry_transient,
    stop_task,
)

__all__ = [
    "DURATION_BUCKETS_S",
    "HeartbeatWriter",
    "MetricsRecorder",
    "histogram_percentile",
    "prune_heartbeats",
]

logger = logging.getLogger("django_onestep.orm.telemetry")

#: Upper bounds of the duration histogram buckets; a last bucket catches the rest.
DURATION_BUCKETS_S: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)
_COUNTED_KINDS = ("fetched", "started", "succeeded", "retried", "failed", "dead_lettered", "cancelled")
_ENDS_RUN = frozenset({"succeeded", "retried", "failed"})
#: How often a worker looks for old heartbeat rows (and once when it starts).
HEARTBEAT_PRUNE_INTERVAL_S = 600.0
#: A row that is not ``stopped`` belongs to a live worker while it is refreshed every
#: ``interval_s``; it is only taken for a crashed worker after this many missed beats,
#: whatever the retention says.
_MISSED_BEATS_BEFORE_PRUNE = 20
_PRUNE_BATCH = 500
_PRUNE_MAX_BATCHES = 20


def histogram_percentile(histogram: list[int], quantile: float) -> float | None:
    """Upper bound (seconds) of the bucket holding ``quantile``; None without data.

    The overflow bucket reports the last finite bound (the true value is larger).
    """
    total = sum(histogram)
    if total == 0:
        return None
    rank = quantile * total
    running = 0
    for index, count in enumerate(histogram):
        running += count
        if running >= rank and count:
            return DURATION_BUCKETS_S[min(index, len(DURATION_BUCKETS_S) - 1)]
    return DURATION_BUCKETS_S[-1]


@dataclass
class _Window:
    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    duration_count: int = 0
    duration_sum_s: float = 0.0
    duration_max_s: float = 0.0
    histogram: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS_S) + 1))

    def merge(self, other: _Window) -> None:
        for key, value in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        for key, value in other.failures.items():
            self.failures[key] = self.failures.get(key, 0) + value
        self.duration_count += other.duration_count
        self.duration_sum_s += other.duration_sum_s
        self.duration_max_s = max(self.duration_max_s, other.duration_max_s)
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]


def _is_poison(event: Any) -> bool:
    failure = event.failure
    return failure is not None and getattr(failure, "exception_type", "") == "PoisonMessageError"


async def _release(thread: DBThread | None) -> None:
    """Give back a writer's shared DB thread (the last user closes it, off the loop)."""
    if thread is not None:
        await asyncio.to_thread(release_thread, thread)


def _minute(moment: datetime) -> int:
    """Minutes since the epoch (a cheap window key; turned into a datetime at flush)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 60)


class MetricsRecorder:
    """``app.on_event`` handler aggregating events per task per minute window."""

    def __init__(
        self,
        app_name: str,
        *,
        using: str | None = None,
        flush_interval_s: float | None = None,
        retention_s: float | None = -1.0,
    ) -> None:
        self.app_name = app_name
        self.using = using or get_settings().DATABASE
        self.flush_interval_s = float(flush_interval_s or get_settings().METRICS_FLUSH_INTERVAL_S)
        self.retention_s = get_settings().METRICS_RETENTION_S if retention_s == -1.0 else retention_s
        self._windows: dict[tuple[str, int], _Window] = {}
        self._in_flight: dict[str, int] = {}
        self._thread: DBThread | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._last_prune: datetime | None = None
        never = datetime.min.replace(tzinfo=UTC)
        self._this_minute: tuple[datetime, datetime, int] = (never, never, 0)

    # -- the event handler (no I/O) ---------------------------------------------------
    def __call__(self, event: Any) -> None:
        kind = event.kind
        kind = getattr(kind, "value", kind)
        task = event.task
        if kind == "started":
            self._in_flight[task] = self._in_flight.get(task, 0) + 1
        elif kind in _ENDS_RUN and self._in_flight.get(task, 0) > 0 and not _is_poison(event):
            self._in_flight[task] -= 1  # a poison item fails without having started
        key = (task, self._minute(event.emitted_at))
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window()
        if kind in _COUNTED_KINDS:
            window.counts[kind] = window.counts.get(kind, 0) + 1
        if kind == "failed" and event.failure is not None:
            failure_kind = getattr(event.failure.kind, "value", event.failure.kind)
            window.failures[failure_kind] = window.failures.get(failure_kind, 0) + 1
        if kind in ("succeeded", "failed") and event.duration_s is not None:
            duration = float(event.duration_s)
            window.duration_count += 1
            window.duration_sum_s += duration
            window.duration_max_s = max(window.duration_max_s, duration)
            window.histogram[bisect.bisect_left(DURATION_BUCKETS_S, duration)] += 1

    def _minute(self, moment: datetime) -> int:
        """``_minute(moment)``, without converting every event's time to a timestamp:
        events come in time order, so nearly all fall in the minute of the one before."""
        start, end, minute = self._this_minute
        if moment.tzinfo is not None and start <= moment < end:
            return minute
        minute = _minute(moment)
        if moment.tzinfo is not None:
            start = datetime.fromtimestamp(minute * 60, UTC)
            self._this_minute = (start, start + timedelta(minutes=1), minute)
        return minute

    def in_flight_total(self) -> int:
        return sum(self._in_flight.values())

    # -- flushing -----------------------------------------------------------------------
    async def start(self) -> None:
        if self._loop_task is None:
            self._thread = acquire_thread(self.using, "write")
            self._loop_task = asyncio.create_task(self._flush_loop(), name="onestep-metrics")

    async def stop(self) -> None:
        await stop_task(self._loop_task)
        self._loop_task = None
        with contextlib.suppress(Exception):
            await self.flush()
        thread, self._thread = self._thread, None
        await _release(thread)

    async def _flush_loop(self) -> None:
        await repeat_every(
            self.flush_interval_s,
            self.flush,
            logger=logger,
            failure="flushing task metrics failed; keeping them for the next flush",
        )

    async def flush(self) -> int:
        """Write the pending windows now; returns how many rows were upserted."""
        windows, self._windows = self._windows, {}
        if not windows:
            return 0
        if self._thread is None:
            self._thread = acquire_thread(self.using, "write")
        try:
            await self._thread.run(
                self._flush_sync, windows, operation=ConnectorOperation.SEND, source_name="metrics"
            )
        except BaseException:
            for key, window in windows.items():  # keep them: the next flush retries
                current = self._windows.setdefault(key, _Window())
                current.merge(window)
            raise
        return len(windows)

    def _flush_sync(self, windows: dict[tuple[str, int], _Window]) -> None:
        for (task, minute), window in windows.items():
            self._upsert(task, datetime.fromtimestamp(minute * 60, tz=UTC), window)
        self._maybe_prune()

    def _upsert(self, task: str, window_start: datetime, window: _Window) -> None:
        from django.db import IntegrityError, transaction

        from django_onestep.models import TaskMetric

        rows = TaskMetric.objects.using(self.using)
        for _ in range(3):
            try:
                with transaction.atomic(using=self.using):
                    row = (
                        rows.select_for_update()
                        .filter(app=self.app_name, task=task, window_start=window_start)
                        .first()
                    )
                    if row is None:
                        row = TaskMetric(app=self.app_name, task=task, window_start=window_start)
                    _apply_window(row, window)
                    row.save(using=self.using)
                return
            except IntegrityError:
                continue  # another worker created the window first: merge into it

    def _maybe_prune(self) -> None:
        from django.utils import timezone

        from django_onestep.models import TaskMetric

        now = timezone.now()
        if self.retention_s is None or (self._last_prune and now - self._last_prune < timedelta(minutes=10)):
            return
        self._last_prune = now
        cutoff = now - timedelta(seconds=float(self.retention_s))
        TaskMetric.objects.using(self.using).filter(window_start__lt=cutoff).delete()


def _apply_window(row: Any, window: _Window) -> None:
    for kind in _COUNTED_KINDS:
        setattr(row, kind, getattr(row, kind) + window.counts.get(kind, 0))
    failures = dict(row.failures or {})
    for key, value in window.failures.items():
        failures[key] = failures.get(key, 0) + value
    row.failures = failures
    row.duration_count += window.duration_count
    row.duration_sum_s += window.duration_sum_s
    row.duration_max_s = max(row.duration_max_s, window.duration_max_s)
    histogram = list(row.histogram or [])
    histogram += [0] * (len(window.histogram) - len(histogram))
    row.histogram = [a + b for a, b in zip(histogram, window.histogram, strict=False)]


class HeartbeatWriter:
    """Upserts this worker's ``WorkerHeartbeat`` row every ``interval_s``."""

    def __init__(
        self,
        app_name: str,
        task_names: Iterable[str],
        *,
        using: str | None = None,
        interval_s: float | None = None,
        in_flight: Callable[[], int] | None = None,
        worker_id: str | None = None,
        retention_s: float | None = -1.0,
        forget_on_stop: bool = False,
        on_request: Callable[[str], None] | None = None,
        on_paused: Callable[[frozenset[str]], None] | None = None,
    ) -> None:
        from django_onestep import __version__

        self.app_name = app_name
        self.task_names = list(task_names)
        self.using = using or get_settings().DATABASE
        self.interval_s = float(interval_s or get_settings().WORKER_HEARTBEAT_S)
        self.retention_s = get_settings().WORKER_HEARTBEAT_RETENTION_S if retention_s == -1.0 else retention_s
        #: Delete the row on stop instead of marking it stopped (``--once``: a one-shot
        #: run is not a worker anyone needs to see afterwards).
        self.forget_on_stop = forget_on_stop
        self.in_flight = in_flight
        #: Called with "drain" or "stop" when an operator set it on this worker's row
        #: (read back at every beat, the first one before the app serves).
        self.on_request = on_request
        #: Called with the app's tasks paused in the admin (``PausedTask`` rows), each beat.
        self.on_paused = on_paused
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.worker_id = worker_id or f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.version = __version__
        self.started_at: datetime | None = None
        self._thread: DBThread | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._last_prune_s: float | None = None

    async def start(self) -> None:
        from django.utils import timezone

        if self._loop_task is not None:
            return
        self.started_at = timezone.now()
        self._thread = acquire_thread(self.using, "write")
        try:
            await retry_transient(self.beat)
        except Exception:
            logger.warning("first worker heartbeat failed; retrying", exc_info=True)
        self._loop_task = asyncio.create_task(self._beat_loop(), name="onestep-heartbeat")

    async def stop(self) -> None:
        if await stop_task(self._loop_task):
            self._loop_task = None
            with contextlib.suppress(Exception):  # if it fails, the pruning removes the row
                if self.forget_on_stop:
                    await self._run(self._forget_sync)
                else:
                    await self.beat(status="stopped")
        thread, self._thread = self._thread, None
        await _release(thread)

    async def _beat_loop(self) -> None:
        await repeat_every(
            self.interval_s, self.beat, logger=logger, failure="worker heartbeat failed; retrying"
        )

    async def beat(self, *, status: str = "running") -> None:
        in_flight = 0
        if self.in_flight is not None:
            with contextlib.suppress(Exception):
                in_flight = max(int(self.in_flight()), 0)
        requested, paused = await self._run(self._beat_sync, status, in_flight)
        if requested and self.on_request is not None:
            self.on_request(requested)
        if self.on_paused is not None and status == "running":
            self.on_paused(paused)
        if status == "running":
            await self._maybe_prune()

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._thread is None:
            self._thread = acquire_thread(self.using, "write")
        return await self._thread.run(
            fn, *args, operation=ConnectorOperation.HEARTBEAT, source_name="heartbeat"
        )

    async def _maybe_prune(self) -> None:
        now_s = time.monotonic()
        if self.retention_s is None or (
            self._last_prune_s is not None and now_s - self._last_prune_s < HEARTBEAT_PRUNE_INTERVAL_S
        ):
            return
        self._last_prune_s = now_s
        try:
            await self._run(
                prune_heartbeats,
                self.using,
                float(self.retention_s),
                _MISSED_BEATS_BEFORE_PRUNE * self.interval_s,
                self.worker_id,
            )
        except Exception:  # the heartbeat itself was written; try again next time
            logger.warning("pruning old worker heartbeats failed; retrying later", exc_info=True)

    def _forget_sync(self) -> None:
        from django_onestep.models import WorkerHeartbeat

        WorkerHeartbeat.objects.using(self.using).filter(worker_id=self.worker_id).delete()

    def _beat_sync(self, status: str, in_flight: int) -> tuple[str, frozenset[str]]:
        """Upsert the row; return what an operator requested of this worker ("" if
        nothing) and the app's paused tasks (read only when someone listens)."""
        from django.utils import timezone

        from django_onestep.models import PausedTask, WorkerHeartbeat

        now = timezone.now()
        row, _ = WorkerHeartbeat.objects.using(self.using).update_or_create(
            worker_id=self.worker_id,
            defaults={
                "app": self.app_name,
                "host": self.host[:255],
                "pid": self.pid,
                "tasks": self.task_names,
                "version": self.version,
                "status": status,
                "in_flight": in_flight,
                "started_at": self.started_at or now,
                "last_seen": now,
            },
        )
        paused: frozenset[str] = frozenset()
        if self.on_paused is not None:
            rows = PausedTask.objects.using(self.using).filter(app=self.app_name)
            paused = frozenset(rows.values_list("task", flat=True))
        return str(row.requested), paused


def prune_heartbeats(
    using: str,
    retention_s: float,
    missed_beats_s: float,
    keep_worker_id: str | None = None,
    *,
    batch_size: int = _PRUNE_BATCH,
    max_batches: int = _PRUNE_MAX_BATCHES,
) -> int:
    """Delete heartbeat rows not refreshed for ``retention_s``; returns how many.

    A ``stopped`` row goes once it is ``retention_s`` old. Any other row (a worker
    killed before it could mark itself stopped) goes once it is older than both
    ``retention_s`` and ``missed_beats_s``, so a live worker is never taken for a
    crashed one (and a live worker whose row went anyway writes it again on its next
    beat). Deletes in batches of ``batch_size`` ids, at most ``max_batches`` per call.
    """
    from django.db.models import Q
    from django.utils import timezone

    from django_onestep.models import WorkerHeartbeat

    now = timezone.now()
    stopped_before = now - timedelta(seconds=retention_s)
    silent_before = now - timedelta(seconds=max(retention_s, missed_beats_s))
    old = Q(status="stopped", last_seen__lt=stopped_before) | Q(last_seen__lt=silent_before)
    rows = WorkerHeartbeat.objects.using(using).filter(old)
    if keep_worker_id is not None:
        rows = rows.exclude(worker_id=keep_worker_id)
    deleted = 0
    for _ in range(max_batches):
        ids = list(rows.order_by("last_seen").values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        # filtered again: a row that was refreshed since the select stays
        deleted += rows.filter(id__in=ids).delete()[0]
        if len(ids) < batch_size:
            break
    return deleted
