"""Wire the ORM telemetry (``django_onestep.orm.telemetry``) into a worker process.

``MetricsRecorder`` aggregates task events into per-minute ``TaskMetric`` windows and
``HeartbeatWriter`` upserts this process's ``WorkerHeartbeat`` row; both write on their
own interval (``ONESTEP["METRICS_FLUSH_INTERVAL_S"]``, ``ONESTEP["WORKER_HEARTBEAT_S"]``)
from their own database thread, never per event. Telemetry failures are logged by them
and never stop the worker. A ``--once`` run deletes its heartbeat row when it stops,
so cron-style runs leave no row behind; the heartbeat writer prunes the rows of
workers gone for ``ONESTEP["WORKER_HEARTBEAT_RETENTION_S"]``. Each beat reads back what
an operator asked of this worker in the admin: "stop" shuts it down as SIGTERM does,
"drain" stops fetching and shuts down once the work in hand is done; a task paused
there (a ``PausedTask`` row) stops fetching until the row is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["WorkerTelemetry"]

logger = logging.getLogger("django_onestep.worker")


class WorkerTelemetry:
    def __init__(self, app: OneStepApp, task_names: list[str], *, once: bool = False) -> None:
        from django_onestep.conf import get_settings
        from django_onestep.orm.telemetry import HeartbeatWriter, MetricsRecorder

        conf = get_settings()
        self.recorder = MetricsRecorder(
            app.name, using=conf.DATABASE, flush_interval_s=conf.METRICS_FLUSH_INTERVAL_S
        )
        app.on_event(self.recorder)
        self.heartbeat = HeartbeatWriter(
            app.name,
            task_names,
            using=conf.DATABASE,
            interval_s=conf.WORKER_HEARTBEAT_S,
            in_flight=self.recorder.in_flight_total,
            retention_s=conf.WORKER_HEARTBEAT_RETENTION_S,
            forget_on_stop=once,
            on_request=self._on_request,
            on_paused=self._on_paused,
        )
        self.app = app
        app.on_startup(self._apply_requests_at_startup)
        self._drain_waiter: asyncio.Task[None] | None = None
        self._stop_logged = False
        self._paused_here: set[str] = set()  # paused by the admin (not by code)

    def _on_request(self, requested: str) -> None:
        """An operator's request from the admin, read back with the heartbeat."""
        if requested == "stop" and not self._stop_logged:
            self._stop_logged = True
            logger.info("stop requested in the admin: shutting down")
            self.app.request_shutdown()
        elif requested == "drain" and not self.app.is_draining:
            if self._drain_waiter is None:
                logger.info("drain requested in the admin: taking no new work, exiting once idle")
                self._drain_waiter = asyncio.create_task(self._stop_when_drained(), name="onestep-drain")
            self.app.request_drain()

    def _on_paused(self, paused: frozenset[str]) -> None:
        """Follow the admin's paused tasks; a task paused by code stays paused."""
        for name in self.heartbeat.task_names:
            if name in paused and not self.app.is_task_paused(name):
                if name not in self._paused_here:
                    logger.info("task %s paused in the admin", name)
                self._paused_here.add(name)
                self.app.request_task_pause(name)
            elif name not in paused and name in self._paused_here:
                logger.info("task %s resumed in the admin", name)
                self._paused_here.discard(name)
                self.app.request_task_resume(name)

    async def _apply_requests_at_startup(self) -> None:
        """serve() clears the pause and drain flags as it starts (after the first beat):
        read the admin's requests again before the runners fetch anything."""
        try:
            await self.heartbeat.beat()
        except Exception:  # telemetry never stops the worker; the next beat applies them
            logger.warning("could not read the admin's requests at startup", exc_info=True)

    async def _stop_when_drained(self) -> None:
        await self.app.wait_for_drain()
        self.app.request_shutdown()

    async def start(self) -> None:
        await self.recorder.start()
        await self.heartbeat.start()

    async def stop(self) -> None:
        if self._drain_waiter is not None:
            self._drain_waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain_waiter
        await self.heartbeat.stop()
        await self.recorder.stop()
