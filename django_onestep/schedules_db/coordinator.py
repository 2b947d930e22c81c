"""The database coordinator of one schedule: claim each tick once, persist the last fire.

Why a unique ``(schedule, fire_at)`` claim row and no leader lease:
``docs/design/schedules.md``. Every call runs on the shared write thread of the
database alias, so a worker with many schedules holds no extra connection.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import socket
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django_onestep.conf import get_settings
from django_onestep.core.errors import ConnectorOperation
from django_onestep.core.events import TaskEventKind
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread, stop_task
from django_onestep.schedules_db.schedule_rows import ScheduleRows

if TYPE_CHECKING:
    from django_onestep.core.schedules.schedule import ScheduleSource

__all__ = ["OUTCOME_KINDS", "DatabaseScheduleCoordinator", "schedule_definition", "worker_name"]

logger = logging.getLogger("django_onestep.schedules")

_PRUNE_EVERY_FIRES = 100
# the events that end a run: its kind becomes the schedule's last outcome
OUTCOME_KINDS = frozenset(
    {TaskEventKind.SUCCEEDED, TaskEventKind.FAILED, TaskEventKind.RETRIED, TaskEventKind.DEAD_LETTERED}
)
# how often a worker looks for a "run now" asked for in the admin
REQUEST_POLL_S = 2.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def schedule_definition(source: ScheduleSource) -> str:
    """What decides the fire times: a change means the persisted next fire is stale."""
    expression = getattr(source, "expression", None)
    rule = f"cron {expression}" if expression else f"interval {source.interval_s:g}s"  # type: ignore[attr-defined]
    return f"{rule} {source.timezone_name}"[:255]


class DatabaseScheduleCoordinator:
    """``ScheduleSource.coordinator`` backed by ``Schedule`` and ``ScheduleFire`` rows."""

    def __init__(self, *, app: str, task: str, using: str, key: str | None = None) -> None:
        self.app = app
        self.task = task
        self.key = key or f"{app}:{task}"[:200]
        self.using = using
        self.rows = ScheduleRows(key=self.key, app=app, task=task, using=using, worker=worker_name())
        self._thread: DBThread | None = None
        self._fires = itertools.count(1)
        self._renewal: asyncio.Task[None] | None = None
        self._manual_runs: set[datetime] = set()
        self._next_request_poll_s = 0.0
        self.leader_only = False

    @property
    def worker(self) -> str:
        """Who claims: ``host:pid``; tests that play several workers in one process set it."""
        return self.rows.worker

    @worker.setter
    def worker(self, value: str) -> None:
        self.rows.worker = value

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._thread is None:
            self._thread = acquire_thread(self.using, "write")
        return await self._thread.run(fn, *args, operation=ConnectorOperation.FETCH, source_name=self.key)

    async def close(self) -> None:
        await stop_task(self._renewal)
        self._renewal = None
        if self.leader_only and self._thread is not None:
            try:
                await self._run(self.rows.release)
            except Exception:  # the database is away: the lease expires instead
                logger.warning("schedule %s: releasing the leader lease failed", self.key, exc_info=True)
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(release_thread, thread)

    # -- the coordinator hook ----------------------------------------------------------
    async def initial_fire_at(self, source: ScheduleSource, now: datetime) -> datetime | None:
        first = source.initial_fire_at(now)
        restored: datetime | None = await self._run(
            self.rows.restore, schedule_definition(source), source, first
        )
        return restored

    async def claim(self, source: ScheduleSource, scheduled_at: datetime) -> bool:
        if source.leader_only and not self.leader_only:
            self._elect_with_lease()
        if scheduled_at in self._manual_runs:
            manual: bool = await self._run(self.rows.claim_requested, scheduled_at)
            if not manual:
                self._manual_runs.discard(scheduled_at)
            return manual
        hold_run = source.overlap != "allow" or self.leader_only
        claimed: bool = await self._run(self.rows.claim, scheduled_at, hold_run)
        if claimed and hold_run and (self._renewal is None or self._renewal.done()):
            self._renewal = asyncio.get_running_loop().create_task(self._renew_run_lease())
        return claimed

    async def running_elsewhere(self, source: ScheduleSource) -> bool:
        running: bool = await self._run(self.rows.running_elsewhere)
        return running

    async def requested_runs(self, source: ScheduleSource, now: datetime) -> list[datetime]:
        poll_s = time.monotonic()
        if poll_s < self._next_request_poll_s:
            return []
        self._next_request_poll_s = poll_s + REQUEST_POLL_S
        requested: datetime | None = await self._run(self.rows.requested)
        if requested is None:
            return []
        self._manual_runs.add(requested)
        return [requested]

    async def claim_requested_run(self) -> datetime | None:
        """The requested run that is due, if this worker claimed it (a one-off schedule)."""
        requested: datetime | None = await self._run(self.rows.requested)
        if requested is None or not await self._run(self.rows.claim_requested, requested):
            return None
        return requested

    async def record_fire(self, source: ScheduleSource, scheduled_at: datetime) -> None:
        if scheduled_at in self._manual_runs:
            self._manual_runs.discard(scheduled_at)
            return  # a run outside the schedule moves neither its last nor its next fire
        prune = next(self._fires) % _PRUNE_EVERY_FIRES == 0
        await self._run(self.rows.record, scheduled_at, source.next_fire_after(scheduled_at), prune)

    async def record_next_fire(self, source: ScheduleSource, next_fire_at: datetime) -> None:
        await self._run(self.rows.next_fire, next_fire_at)

    async def record_outcome(self, outcome: str) -> None:
        """The run ended (any way): remember how, and let the next tick start anywhere
        (a leader keeps its lease, so the next tick starts on it)."""
        if not self.leader_only:
            await stop_task(self._renewal)
            self._renewal = None
        await self._run(functools.partial(self.rows.outcome, outcome, keep_lease=self.leader_only))

    def _elect_with_lease(self) -> None:
        """Leader-only: the run lease becomes the election (docs/design/schedules.md says why)."""
        self.leader_only = True
        self.rows.lease_s = get_settings().LEASE_S

    async def _renew_run_lease(self) -> None:
        while True:
            await asyncio.sleep(self.rows.lease_s / 3)
            try:
                if not await self._run(self.rows.renew):
                    if self.leader_only:
                        logger.warning("schedule %s: this worker lost the leader lease", self.key)
                    return
            except Exception:
                logger.warning("renewing the run lease of schedule %s failed", self.key, exc_info=True)
