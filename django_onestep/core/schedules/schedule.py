"""Tick logic shared by IntervalSource and CronSource.

Semantics are onestep 1.x's: ``fetch`` returns the due ticks (never sleeps), a tick is
"in flight" from fetch until its delivery is acked, failed or retried, and ``overlap``
decides what happens to ticks that come due while one is in flight:

* ``allow``: every due tick is delivered (up to the fetch limit).
* ``skip``: ticks due while one is in flight are dropped; when several are due at
  once with nothing in flight, only the most recent runs.
* ``queue``: due ticks wait in order (at most ``max_queued_runs``, oldest dropped
  first) and run one at a time.

Retries are parked in a heap until due instead of sleeping, so they hold no slot.

``misfire`` decides what happens to the ticks missed while no worker ran, once a
coordinator restores a next fire time that has gone by: ``skip`` drops them,
``run_once`` fires the latest one, ``catch_up`` fires the latest ``max_catch_up`` in
order. Without a persisted fire time (the default coordinator) nothing is missed.

A :class:`ScheduleCoordinator` lets a Django layer make a tick fire once across many
workers (``claim``), persist the last fire (``record_fire``) and resume from it
(``initial_fire_at``) without touching this module; the default does nothing.
Optional methods: ``running_elsewhere(source)``, so ``skip`` and ``queue`` also wait
for a run on another worker; ``requested_runs(source, now)``, extra fire times asked
for outside the schedule, polled on each fetch; ``record_next_fire(source,
next_fire_at)``, called when ``misfire`` dropped every missed tick; and ``close()``,
called when the source closes.
"""

from __future__ import annotations

import asyncio
import copy
import heapq
import os
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django_onestep.core.base import Delivery, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import finite_number, positive_int

__all__ = [
    "DEFAULT_MAX_CATCH_UP",
    "DEFAULT_MAX_QUEUED_RUNS",
    "DEFAULT_MISFIRE",
    "MISFIRE_POLICIES",
    "OVERLAP_POLICIES",
    "LocalCoordinator",
    "ScheduleCoordinator",
    "ScheduleDelivery",
    "ScheduleSource",
    "resolve_timezone",
]

DEFAULT_MAX_QUEUED_RUNS = 1000
OVERLAP_POLICIES = ("allow", "skip", "queue")
MISFIRE_POLICIES = ("skip", "run_once", "catch_up")
# a nightly job missed during a deploy still runs, an every-minute one does not replay a burst
DEFAULT_MISFIRE = "run_once"
DEFAULT_MAX_CATCH_UP = 100
# walking a cron schedule over a long outage tick by tick: stop after this many
_MAX_MISSED_SCAN = 100_000
Clock = Callable[[], datetime]


class ScheduleCoordinator(Protocol):
    """Plug point for "fire once across workers" and a persisted last fire."""

    async def initial_fire_at(self, source: ScheduleSource, now: datetime) -> datetime | None:
        """The first tick to fire after (re)start, or None for the source's default."""

    async def claim(self, source: ScheduleSource, scheduled_at: datetime) -> bool:
        """True if this worker may fire ``scheduled_at`` (e.g. a unique claim row)."""

    async def record_fire(self, source: ScheduleSource, scheduled_at: datetime) -> None:
        """Remember that ``scheduled_at`` fired (e.g. ScheduleState.last_fire_at)."""


class LocalCoordinator:
    """Default: one process, nothing persisted."""

    async def initial_fire_at(self, source: ScheduleSource, now: datetime) -> datetime | None:
        return None

    async def claim(self, source: ScheduleSource, scheduled_at: datetime) -> bool:
        return True

    async def record_fire(self, source: ScheduleSource, scheduled_at: datetime) -> None:
        return None


def resolve_timezone(value: str | tzinfo | None) -> tzinfo:
    """An IANA name, a tzinfo, or None for the machine's local zone (as onestep)."""
    if isinstance(value, tzinfo):
        return value
    if isinstance(value, str):
        try:
            return ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(f"timezone {value!r} is not a known IANA timezone") from None
    if value is None:
        return _local_timezone()
    raise ConfigurationError(f"timezone must be an IANA name or a tzinfo, got {value!r}")


def _local_timezone() -> tzinfo:
    """The machine's zone with its DST rules (``TZ``, else ``/etc/localtime``).

    ``datetime.now().astimezone().tzinfo`` (onestep's choice) is today's fixed offset:
    after the next DST change a cron job would fire an hour off until restarted.
    """
    fixed_offset = datetime.now().astimezone().tzinfo or UTC
    name = os.environ.get("TZ", "").strip().lstrip(":")
    if name:
        try:
            return _plain_utc(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            return fixed_offset  # a POSIX rule such as "CET-1CEST": all we can know
    try:
        with open("/etc/localtime", "rb") as local:
            return _plain_utc(ZoneInfo.from_file(local, key=_localtime_key()))
    except (OSError, ValueError):
        return fixed_offset


def _plain_utc(zone: ZoneInfo) -> tzinfo:
    # keeps scheduled_at and check output reading "UTC" on the usual server setup
    return UTC if zone.key in ("UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu") else zone


def _localtime_key() -> str:
    """The IANA name /etc/localtime links to (``Europe/Berlin``), else ``localtime``."""
    target = os.path.realpath("/etc/localtime")
    marker = "zoneinfo" + os.sep
    return target.split(marker, 1)[1] if marker in target else "localtime"


def _timezone_name(value: str | tzinfo | None, resolved: tzinfo) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    key = getattr(resolved, "key", None)
    if isinstance(key, str) and key:
        return key
    return os.environ.get("TZ", "").strip() or str(resolved)


class ScheduleDelivery(Delivery):
    """A tick. Settling it (any way) ends the tick's "in flight" state."""

    def __init__(self, source: ScheduleSource, envelope: Envelope, generation: int) -> None:
        super().__init__(envelope)
        self._source = source
        self._generation = generation

    async def ack(self) -> None:
        if self.mark_settled():
            self._source._finish(self._generation)

    async def fail(self, exc: Exception | None = None) -> None:
        if self.mark_settled():
            self._source._finish(self._generation)

    async def retry(self, *, delay_s: float | None = None) -> None:
        if self.mark_settled():
            self._source._finish(self._generation, retry=self.envelope, delay_s=delay_s)


class ScheduleSource(Source):
    """Base for sources that produce ticks from a clock. Subclasses compute fire times."""

    supports_manual_run = True
    #: Set by ``@app.task(leader_only=True)``: a coordinator fires its ticks on one
    #: elected worker only (the database coordinator holds a lease for it).
    leader_only = False

    _next_fire_at: datetime | None
    _last_fire_at: datetime | None
    _queued_runs: deque[datetime]
    _retry_heap: list[tuple[datetime, int, Envelope]]

    def __init__(
        self,
        name: str,
        *,
        payload: Any = None,
        immediate: bool = False,
        overlap: str = "allow",
        timezone: str | tzinfo | None = None,
        timezone_name: str | tzinfo | None = None,
        poll_interval_s: float = 1.0,
        max_queued_runs: int = DEFAULT_MAX_QUEUED_RUNS,
        misfire: str = DEFAULT_MISFIRE,
        max_catch_up: int = DEFAULT_MAX_CATCH_UP,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name)
        if overlap not in OVERLAP_POLICIES:
            raise ConfigurationError(f"overlap must be one of allow, skip, queue; got {overlap!r}")
        if misfire not in MISFIRE_POLICIES:
            raise ConfigurationError(f"misfire must be one of skip, run_once, catch_up; got {misfire!r}")
        positive_int("max_queued_runs", max_queued_runs)
        positive_int("max_catch_up", max_catch_up)
        finite_number("poll_interval_s", poll_interval_s)
        raw_timezone = timezone if timezone is not None else timezone_name
        self.timezone = resolve_timezone(raw_timezone)
        self.timezone_name = _timezone_name(raw_timezone, self.timezone)
        self.payload = payload
        self.immediate = immediate
        self.overlap = overlap
        self.max_queued_runs = max_queued_runs
        self.misfire = misfire
        self.max_catch_up = max_catch_up
        self.poll_interval_s = max(0.01, float(poll_interval_s))
        self.coordinator: ScheduleCoordinator = LocalCoordinator()
        # Public so tests can swap it on a source built by code they do not control.
        self.clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._reset_runtime()

    def make_leader_only(self) -> None:
        """Fire on the elected leader only (``@app.task(leader_only=True)`` calls this)."""
        self.leader_only = True

    # -- what subclasses provide -------------------------------------------------------
    def initial_fire_at(self, now: datetime) -> datetime:
        """The first tick after ``now`` (UTC-aware) when nothing is persisted."""
        raise NotImplementedError

    def next_fire_after(self, fired_at: datetime) -> datetime:
        """The tick after ``fired_at`` (both UTC-aware)."""
        raise NotImplementedError

    def missed_ticks(self, first: datetime, now: datetime, keep: int) -> tuple[list[datetime], datetime]:
        """The last ``keep`` ticks from ``first`` up to ``now``, and the first tick after ``now``.

        Walks the schedule; a subclass with arithmetic fire times can jump instead.
        """
        kept: deque[datetime] = deque(maxlen=keep)
        tick = first
        for _ in range(_MAX_MISSED_SCAN):
            if tick > now:
                return list(kept), tick
            kept.append(tick)
            tick = self.next_fire_after(tick)
        return list(kept), self.initial_fire_at(now)

    # -- introspection (admin, check command) ------------------------------------------
    @property
    def next_fire_at(self) -> datetime | None:
        return self._next_fire_at

    @property
    def last_fire_at(self) -> datetime | None:
        return self._last_fire_at

    @property
    def inflight_count(self) -> int:
        return self._inflight

    @property
    def queued_run_count(self) -> int:
        return len(self._queued_runs)

    @property
    def missed_run_count(self) -> int:
        """Missed ticks (``misfire``) still waiting to fire."""
        return len(self._missed_runs)

    def upcoming_fire_times(self, count: int = 3, *, first: datetime | None = None) -> list[datetime]:
        """The next ``count`` ticks from ``first`` (default: the first after now), in ``timezone``."""
        tick = self.initial_fire_at(self.now()) if first is None else first.astimezone(UTC)
        times: list[datetime] = []
        for _ in range(count):
            times.append(tick.astimezone(self.timezone))
            tick = self.next_fire_after(tick)
        return times

    def now(self) -> datetime:
        """The current instant as UTC-aware; a naive clock value is read in ``timezone``."""
        current = self.clock() if self.clock is not None else datetime.now(UTC)
        if current.tzinfo is None:
            current = current.replace(tzinfo=self.timezone)
        return current.astimezone(UTC)

    # -- Source API -------------------------------------------------------------------
    async def open(self) -> None:
        async with self._runtime_lock():
            await self._ensure_initialized()

    async def close(self) -> None:
        # a coordinator may hold a database thread; the hook's close is optional
        close = getattr(self.coordinator, "close", None)
        if close is not None:
            await close()

    async def resume_after_pause(self) -> None:
        """Called by the runner on resume: ticks missed while paused are dropped."""
        async with self._runtime_lock():
            self._pending_immediate = False
            self._queued_runs.clear()
            self._missed_runs.clear()
            self._next_fire_at = self.initial_fire_at(self.now())
            self._initialized = True

    async def fetch(self, limit: int) -> list[Delivery]:
        limit = max(1, limit)
        async with self._runtime_lock():
            await self._ensure_initialized()
            now = self.now()
            retries = self._pop_due_retries(now, limit)
            if retries:
                return retries
            requested = await self._requested_runs(now)
            if requested:
                return await self._deliveries(requested[:limit])
            if self._missed_runs:
                return await self._deliver_missed(limit)
            if self._pending_immediate:
                self._pending_immediate = False
                delivered = await self._deliver_due([now], limit)
                if delivered:
                    return delivered
            if self.overlap == "queue" and self._queued_runs and not await self._busy():
                return await self._deliveries([self._queued_runs.popleft()])
            due = self._collect_due(now)
            return await self._deliver_due(due, limit) if due else []

    # -- internals ----------------------------------------------------------------------
    def _reset_runtime(self) -> None:
        self._initialized = False
        self._pending_immediate = self.immediate
        self._next_fire_at = None
        self._last_fire_at = None
        self._inflight = 0
        self._sequence = 0
        self._generation = getattr(self, "_generation", 0) + 1
        self._queued_runs = deque()
        self._missed_runs: deque[datetime] = deque()
        self._retry_heap = []
        self._retry_sequence = 0

    def _runtime_lock(self) -> asyncio.Lock:
        # A source reused on a new event loop (tests, run() after run()) starts afresh.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._lock = asyncio.Lock()
            self._reset_runtime()
        return self._lock

    async def _ensure_initialized(self) -> None:
        if self._initialized:
            return
        now = self.now()
        restored = await self.coordinator.initial_fire_at(self, now)
        if restored is None:
            self._next_fire_at = self.initial_fire_at(now)
        else:
            # a schedule with a history resumes it: no start-up tick, misfire decides
            self._pending_immediate = False
            self._next_fire_at = restored.astimezone(UTC)
            if self._next_fire_at <= now:
                keep = {"skip": 0, "run_once": 1, "catch_up": self.max_catch_up}[self.misfire]
                missed, self._next_fire_at = self.missed_ticks(self._next_fire_at, now, keep)
                self._missed_runs.extend(missed)
                # optional hook: the persisted next fire moves past the ticks dropped here
                record_next_fire = getattr(self.coordinator, "record_next_fire", None)
                if record_next_fire is not None and not missed:
                    await record_next_fire(self, self._next_fire_at)
        self._initialized = True

    async def _deliver_missed(self, limit: int) -> list[Delivery]:
        # allow: as many as the runner takes; skip and queue: one at a time, in order
        if self.overlap != "allow":
            if await self._busy():
                return []
            limit = 1
        batch = [self._missed_runs.popleft() for _ in range(min(limit, len(self._missed_runs)))]
        return await self._deliveries(batch)

    def _collect_due(self, now: datetime, max_due: int = 1000) -> list[datetime]:
        due: list[datetime] = []
        while self._next_fire_at is not None and self._next_fire_at <= now and len(due) < max_due:
            due.append(self._next_fire_at)
            self._next_fire_at = self.next_fire_after(self._next_fire_at)
        return due

    async def _deliver_due(self, due: list[datetime], limit: int) -> list[Delivery]:
        if self.overlap == "allow":
            return await self._deliveries(due[:limit])
        busy = await self._busy()
        if self.overlap == "skip":
            return [] if busy else await self._deliveries(due[-1:])
        if busy:
            self._enqueue_runs(due)
            return []
        self._enqueue_runs(due[1:])
        return await self._deliveries(due[:1])

    async def _requested_runs(self, now: datetime) -> list[datetime]:
        # optional hook: runs asked for outside the schedule ("run now" in an admin)
        requested_runs = getattr(self.coordinator, "requested_runs", None)
        return list(await requested_runs(self, now)) if requested_runs is not None else []

    async def _busy(self) -> bool:
        """A run is in flight here, or (optional hook) on another worker."""
        if self._inflight > 0:
            return True
        running_elsewhere = getattr(self.coordinator, "running_elsewhere", None)
        return running_elsewhere is not None and bool(await running_elsewhere(self))

    def _enqueue_runs(self, runs: list[datetime]) -> None:
        self._queued_runs.extend(runs)
        while len(self._queued_runs) > self.max_queued_runs:
            self._queued_runs.popleft()

    async def _deliveries(self, fire_times: list[datetime]) -> list[Delivery]:
        # A tick another worker claimed produces no delivery here: it fired elsewhere.
        made: list[Delivery] = []
        for scheduled_at in fire_times:
            if await self.coordinator.claim(self, scheduled_at):
                made.append(await self._make_delivery(scheduled_at))
        return made

    async def _make_delivery(self, scheduled_at: datetime) -> ScheduleDelivery:
        envelope = Envelope(
            body=self.payload() if callable(self.payload) else copy.deepcopy(self.payload),
            meta={
                "source": self.name,
                "scheduled_at": scheduled_at.astimezone(self.timezone).isoformat(),
                "sequence": self._sequence,
            },
        )
        self._sequence += 1
        self._inflight += 1
        self._last_fire_at = scheduled_at
        await self.coordinator.record_fire(self, scheduled_at)
        return ScheduleDelivery(self, envelope, self._generation)

    def _pop_due_retries(self, now: datetime, limit: int) -> list[Delivery]:
        ready: list[Delivery] = []
        while self._retry_heap and len(ready) < limit and self._retry_heap[0][0] <= now:
            _, _, envelope = heapq.heappop(self._retry_heap)
            self._inflight += 1
            ready.append(ScheduleDelivery(self, envelope, self._generation))
        return ready

    def _finish(
        self, generation: int, *, retry: Envelope | None = None, delay_s: float | None = None
    ) -> None:
        # Settling never awaits, so it is safe from any task; a delivery from a
        # previous event loop (generation) must not disturb the new counters.
        if generation != self._generation:
            return
        self._inflight = max(0, self._inflight - 1)
        if retry is not None:
            ready_at = self.now() + timedelta(seconds=max(delay_s or 0.0, 0.0))
            self._retry_sequence += 1
            again = Envelope(copy.deepcopy(retry.body), dict(retry.meta), retry.attempts + 1)
            heapq.heappush(self._retry_heap, (ready_at, self._retry_sequence, again))
