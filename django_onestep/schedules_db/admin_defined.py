"""Schedules defined in the admin: each tick enqueues the row's payload on its task's queue.

A worker runs one :class:`AdminScheduleRunner` for the tasks it serves whose source is
a queue (a ``Sink``: ``DatabaseQueue``, Redis, RabbitMQ, SQS). It reloads the rows
every ``refresh_s``, so a schedule created, edited, paused or deleted in the admin
reaches running workers within a few seconds; the ticks themselves go through the same
database coordinator as code-defined schedules, so each fires once across workers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Sink
from django_onestep.core.errors import ConfigurationError, ConnectorOperation
from django_onestep.core.schedules.cron import CronSource
from django_onestep.core.schedules.interval import IntervalSource
from django_onestep.core.schedules.schedule import ScheduleSource
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread, stop_task
from django_onestep.schedules_db.coordinator import OUTCOME_KINDS, DatabaseScheduleCoordinator
from django_onestep.schedules_db.schedule_rows import ScheduleRows

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django_onestep.core.events import TaskEvent
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["AdminScheduleRunner", "source_for_rule"]

logger = logging.getLogger("django_onestep.schedules")

_RETRY_AFTER_FAILURE_S = 5.0


def source_for_rule(
    *, key: str, expression: str, interval_s: float | None, timezone: str, payload: Any
) -> ScheduleSource | None:
    """The core source for an admin rule; None for a one-off (no rule). Bad rules raise
    ``ConfigurationError``."""
    zone = timezone or "UTC"
    if expression:
        return CronSource(expression, timezone=zone, payload=payload, name=key)
    if interval_s is not None:
        return IntervalSource(interval_s, timezone=zone, payload=payload, name=key)
    return None


@dataclass
class _Entry:
    signature: str
    task: str
    coordinator: DatabaseScheduleCoordinator
    source: ScheduleSource | None
    start_at: datetime | None
    end_at: datetime | None

    def in_window(self, at: datetime) -> bool:
        return (self.start_at is None or at >= self.start_at) and (self.end_at is None or at <= self.end_at)


class AdminScheduleRunner:
    """Fires the admin-defined schedules of ``task_names`` in one worker process."""

    def __init__(
        self,
        app: OneStepApp,
        task_names: Iterable[str],
        *,
        using: str,
        poll_s: float = 0.5,
        refresh_s: float = 2.0,
    ) -> None:
        names = set(task_names)
        self.app_name = app.name
        self.using = using
        self.poll_s = poll_s
        self.refresh_s = refresh_s
        self.queues: dict[str, Sink] = {}
        for spec in app.tasks:
            if spec.name in names and isinstance(spec.source, Sink):
                self.queues[spec.name] = spec.source
        self._entries: dict[str, _Entry] = {}
        self._payloads: dict[str, Any] = {}
        self._next_refresh_s = 0.0
        self._thread: DBThread | None = None
        self._loop_task: asyncio.Task[None] | None = None
        if self.queues:
            # on every worker serving the queue, started or not: the job may run anywhere
            app.on_event(self._record_outcome)

    async def start(self) -> None:
        if self.queues:
            self._loop_task = asyncio.get_running_loop().create_task(self._run_forever())

    async def stop(self) -> None:
        await stop_task(self._loop_task)
        self._loop_task = None
        for key in list(self._entries):
            await self._drop(key)
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(release_thread, thread)

    async def _run_forever(self) -> None:
        while True:
            pause_s = self.poll_s
            try:
                await self.poll_once()
            except Exception:  # the database is down, say: retry, without a warning every poll
                logger.warning("admin-defined schedules: a round failed", exc_info=True)
                pause_s = max(self.poll_s, _RETRY_AFTER_FAILURE_S)
            await asyncio.sleep(pause_s)

    async def poll_once(self) -> None:
        """Reload the rows when due, then fire what is due."""
        refreshed = time.monotonic() >= self._next_refresh_s
        if refreshed:
            self._next_refresh_s = time.monotonic() + self.refresh_s
            await self._refresh()
        for key, entry in list(self._entries.items()):
            if entry.source is not None:
                for delivery in await entry.source.fetch(10):
                    await self._enqueue(
                        key, entry, delivery.envelope.meta["scheduled_at"], entry.source.payload
                    )
                    await delivery.ack()
            elif refreshed:  # a one-off: its requested run, once due
                fired_at = await entry.coordinator.claim_requested_run()
                if fired_at is not None:
                    await self._enqueue(key, entry, fired_at.isoformat(), self._payloads.get(key))

    async def _enqueue(self, key: str, entry: _Entry, scheduled_at: str, payload: Any) -> None:
        if not entry.in_window(datetime.fromisoformat(scheduled_at)):
            return
        body = payload() if callable(payload) else payload
        await self.queues[entry.task].publish(body, meta={"schedule": key, "scheduled_at": scheduled_at})

    def _record_outcome(self, event: TaskEvent) -> Awaitable[Any] | None:
        """Nothing to await for the events of other jobs (every job's events come here)."""
        key = event.meta.get("schedule")
        if isinstance(key, str) and event.task in self.queues and event.kind in OUTCOME_KINDS:
            rows = ScheduleRows(key=key, app=self.app_name, task=event.task, using=self.using, worker="")
            return self._db(rows.outcome, event.kind.value)
        return None

    async def _db(self, fn: Any, *args: Any) -> Any:
        if self._thread is None:
            self._thread = acquire_thread(self.using, "write")
        return await self._thread.run(
            fn, *args, operation=ConnectorOperation.FETCH, source_name="admin-defined schedules"
        )

    # -- the rows ------------------------------------------------------------------------
    async def _refresh(self) -> None:
        rows: list[dict[str, Any]] = await self._db(self._load_rows)
        self._payloads = {row["key"]: row["payload"] for row in rows}
        for key in set(self._entries) - {row["key"] for row in rows}:
            await self._drop(key)  # deleted in the admin, or moved to a task not served here
        for row in rows:
            signature = json.dumps(
                [row["task"], row["expression"], row["interval_s"], row["timezone"], row["payload"]],
                sort_keys=True,
                default=str,
            )
            entry = self._entries.get(row["key"])
            if entry is not None and entry.signature == signature:
                entry.start_at, entry.end_at = row["start_at"], row["end_at"]
                continue
            if entry is not None:
                await self._drop(row["key"])
            self._entries[row["key"]] = self._build(row, signature)

    def _load_rows(self) -> list[dict[str, Any]]:
        from django_onestep.models import Schedule

        fields = ("key", "task", "expression", "interval_s", "timezone", "payload", "start_at", "end_at")
        rows = Schedule.objects.using(self.using).filter(
            origin=Schedule.Origin.ADMIN, app=self.app_name, task__in=list(self.queues)
        )
        return list(rows.values(*fields))

    def _build(self, row: dict[str, Any], signature: str) -> _Entry:
        coordinator = DatabaseScheduleCoordinator(
            app=self.app_name, task=row["task"], using=self.using, key=row["key"]
        )
        try:
            source = source_for_rule(
                key=row["key"],
                expression=row["expression"],
                interval_s=row["interval_s"],
                timezone=row["timezone"],
                payload=row["payload"],
            )
        except ConfigurationError as exc:
            logger.warning("admin-defined schedule %s is not used: %s", row["key"], exc)
            source = None
        if source is not None:
            source.coordinator = coordinator
        return _Entry(signature, row["task"], coordinator, source, row["start_at"], row["end_at"])

    async def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        if entry.source is not None:
            await entry.source.close()  # closes its coordinator
        else:
            await entry.coordinator.close()
