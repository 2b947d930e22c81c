"""The database coordinator of one schedule: claim each tick once, persist the last fire.

Why a unique ``(schedule, fire_at)`` claim row and no leader lease:
``docs/design/schedules.md``. Every call runs on the shared write thread of the
database alias, so a worker with many schedules holds no extra connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django_onestep.core.errors import ConnectorOperation
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread, stop_task

if TYPE_CHECKING:
    from django_onestep.core.schedules.schedule import ScheduleSource

__all__ = [
    "CLAIM_RETENTION",
    "RUN_LEASE_S",
    "DatabaseScheduleCoordinator",
    "schedule_definition",
    "worker_name",
]

logger = logging.getLogger("django_onestep.schedules")

# Claims older than this behind the last fire are pruned, and such a tick is never
# claimed again: a worker that wakes from a day-long stall cannot re-fire it.
CLAIM_RETENTION = timedelta(days=1)
_PRUNE_EVERY_FIRES = 100
# overlap "skip"/"queue": a run holds the schedule for this long, renewed while it runs,
# so a killed worker blocks the schedule for at most this long
RUN_LEASE_S = 30.0
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
        self.worker = worker_name()
        self._thread: DBThread | None = None
        self._fires = itertools.count(1)
        self._renewal: asyncio.Task[None] | None = None
        self._manual_runs: set[datetime] = set()
        self._next_request_poll_s = 0.0

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._thread is None:
            self._thread = acquire_thread(self.using, "write")
        return await self._thread.run(fn, *args, operation=ConnectorOperation.FETCH, source_name=self.key)

    async def close(self) -> None:
        await stop_task(self._renewal)
        self._renewal = None
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(release_thread, thread)

    # -- the coordinator hook ----------------------------------------------------------
    async def initial_fire_at(self, source: ScheduleSource, now: datetime) -> datetime | None:
        first = source.initial_fire_at(now)
        restored: datetime | None = await self._run(self._restore, schedule_definition(source), source, first)
        return restored

    async def claim(self, source: ScheduleSource, scheduled_at: datetime) -> bool:
        if scheduled_at in self._manual_runs:
            manual: bool = await self._run(self._claim_requested, scheduled_at)
            if not manual:
                self._manual_runs.discard(scheduled_at)
            return manual
        hold_run = source.overlap != "allow"
        claimed: bool = await self._run(self._claim, scheduled_at, hold_run)
        if claimed and hold_run and self._renewal is None:
            self._renewal = asyncio.get_running_loop().create_task(self._renew_run_lease())
        return claimed

    async def running_elsewhere(self, source: ScheduleSource) -> bool:
        running: bool = await self._run(self._running_elsewhere)
        return running

    async def requested_runs(self, source: ScheduleSource, now: datetime) -> list[datetime]:
        poll_s = time.monotonic()
        if poll_s < self._next_request_poll_s:
            return []
        self._next_request_poll_s = poll_s + REQUEST_POLL_S
        requested: datetime | None = await self._run(self._requested)
        if requested is None:
            return []
        self._manual_runs.add(requested)
        return [requested]

    async def record_fire(self, source: ScheduleSource, scheduled_at: datetime) -> None:
        if scheduled_at in self._manual_runs:
            self._manual_runs.discard(scheduled_at)
            return  # a run outside the schedule moves neither its last nor its next fire
        prune = next(self._fires) % _PRUNE_EVERY_FIRES == 0
        await self._run(self._record, scheduled_at, source.next_fire_after(scheduled_at), prune)

    async def record_next_fire(self, source: ScheduleSource, next_fire_at: datetime) -> None:
        await self._run(self._next_fire, next_fire_at)

    async def record_outcome(self, outcome: str) -> None:
        """The run ended (any way): remember how, and let the next tick start anywhere."""
        await stop_task(self._renewal)
        self._renewal = None
        await self._run(self._outcome, outcome)

    async def _renew_run_lease(self) -> None:
        while True:
            await asyncio.sleep(RUN_LEASE_S / 3)
            try:
                if not await self._run(self._renew):
                    return
            except Exception:
                logger.warning("renewing the run lease of schedule %s failed", self.key, exc_info=True)

    # -- on the database thread --------------------------------------------------------
    def _restore(self, definition: str, source: ScheduleSource, first: datetime) -> datetime | None:
        """The persisted next fire; None (and ``first`` stored) for a new or changed rule."""
        from django.db import transaction
        from django.utils import timezone

        from django_onestep.models import Schedule

        with transaction.atomic(using=self.using):
            row, created = (
                Schedule.objects.using(self.using)
                .select_for_update()
                .get_or_create(
                    key=self.key,
                    defaults={
                        "app": self.app,
                        "task": self.task,
                        "definition": definition,
                        "timezone": source.timezone_name,
                        "next_fire_at": first,
                        "updated_at": timezone.now(),
                    },
                )
            )
            if created:
                return None
            if row.definition != definition or row.next_fire_at is None:
                row.definition, row.timezone, row.next_fire_at = definition, source.timezone_name, first
                row.updated_at = timezone.now()
                row.save(update_fields=["definition", "timezone", "next_fire_at", "updated_at"])
                return None
            return row.next_fire_at

    def _claim(self, scheduled_at: datetime, hold_run: bool) -> bool:
        from django.db import IntegrityError, transaction
        from django.db.models import Q
        from django.utils import timezone

        from django_onestep.models import Schedule, ScheduleFire

        rows = Schedule.objects.using(self.using).filter(key=self.key)
        row = rows.values("id", "paused", "last_fire_at").first()
        if row is None or row["paused"]:
            return False
        if row["last_fire_at"] is not None and scheduled_at < row["last_fire_at"] - CLAIM_RETENTION:
            return False
        now = timezone.now()
        try:
            with transaction.atomic(using=self.using):
                if hold_run:
                    # the lease and the tick are taken together, or neither is
                    free = (
                        Q(running_until__isnull=True)
                        | Q(running_until__lt=now)
                        | Q(running_owner=self.worker)
                    )
                    taken = rows.filter(free).update(
                        running_owner=self.worker, running_until=now + timedelta(seconds=RUN_LEASE_S)
                    )
                    if not taken:
                        return False  # a run is in flight on another worker
                ScheduleFire.objects.using(self.using).create(
                    schedule_id=row["id"], fire_at=scheduled_at, worker=self.worker, claimed_at=now
                )
        except IntegrityError:
            return False  # another worker fired this tick
        return True

    async def claim_requested_run(self) -> datetime | None:
        """The requested run that is due, if this worker claimed it (a one-off schedule)."""
        requested: datetime | None = await self._run(self._requested)
        if requested is None or not await self._run(self._claim_requested, requested):
            return None
        return requested

    def _requested(self) -> datetime | None:
        from django.utils import timezone

        from django_onestep.models import Schedule

        requested: datetime | None = (
            Schedule.objects.using(self.using)
            .filter(key=self.key, run_requested_at__lte=timezone.now())
            .values_list("run_requested_at", flat=True)
            .first()
        )
        return requested

    def _claim_requested(self, requested_at: datetime) -> bool:
        """A "run now": runs even when paused; the request is cleared with the claim."""
        from django.db import IntegrityError, transaction
        from django.utils import timezone

        from django_onestep.models import Schedule, ScheduleFire

        try:
            with transaction.atomic(using=self.using):
                rows = Schedule.objects.using(self.using).filter(key=self.key, run_requested_at=requested_at)
                schedule_id = rows.values_list("id", flat=True).first()
                if schedule_id is None or not rows.update(run_requested_at=None):
                    return False  # another worker took it
                ScheduleFire.objects.using(self.using).create(
                    schedule_id=schedule_id,
                    fire_at=requested_at,
                    worker=self.worker,
                    claimed_at=timezone.now(),
                )
        except IntegrityError:
            return False
        return True

    def _running_elsewhere(self) -> bool:
        from django.utils import timezone

        from django_onestep.models import Schedule

        return (
            Schedule.objects.using(self.using)
            .filter(key=self.key, running_until__gte=timezone.now())
            .exclude(running_owner=self.worker)
            .exists()
        )

    def _renew(self) -> bool:
        from django.utils import timezone

        from django_onestep.models import Schedule

        lease_until = timezone.now() + timedelta(seconds=RUN_LEASE_S)
        renewed: int = (
            Schedule.objects.using(self.using)
            .filter(key=self.key, running_owner=self.worker, running_until__isnull=False)
            .update(running_until=lease_until)
        )
        return renewed > 0

    def _record(self, scheduled_at: datetime, next_fire_at: datetime, prune: bool) -> None:
        from django.db.models import Q
        from django.utils import timezone

        from django_onestep.models import Schedule, ScheduleFire

        rows = Schedule.objects.using(self.using).filter(key=self.key)
        # monotonic: a late writer of an older tick never moves the state back
        rows.filter(Q(last_fire_at__isnull=True) | Q(last_fire_at__lt=scheduled_at)).update(
            last_fire_at=scheduled_at, next_fire_at=next_fire_at, updated_at=timezone.now()
        )
        if prune:
            ScheduleFire.objects.using(self.using).filter(
                schedule__key=self.key, fire_at__lt=scheduled_at - CLAIM_RETENTION
            ).delete()

    def _next_fire(self, next_fire_at: datetime) -> None:
        from django.utils import timezone

        from django_onestep.models import Schedule

        Schedule.objects.using(self.using).filter(key=self.key, next_fire_at__lt=next_fire_at).update(
            next_fire_at=next_fire_at, updated_at=timezone.now()
        )

    def _outcome(self, outcome: str) -> None:
        from django.utils import timezone

        from django_onestep.models import Schedule

        now = timezone.now()
        rows = Schedule.objects.using(self.using).filter(key=self.key)
        rows.update(last_outcome=outcome, last_outcome_at=now, updated_at=now)
        rows.filter(running_owner=self.worker).update(running_owner="", running_until=None)
