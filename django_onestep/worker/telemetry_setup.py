"""Wire the ORM telemetry (``django_onestep.orm.telemetry``) into a worker process.

``MetricsRecorder`` aggregates task events into per-minute ``TaskMetric`` windows and
``HeartbeatWriter`` upserts this process's ``WorkerHeartbeat`` row; both write on their
own interval (``ONESTEP["METRICS_FLUSH_INTERVAL_S"]``, ``ONESTEP["WORKER_HEARTBEAT_S"]``)
from their own database thread, never per event. Telemetry failures are logged by them
and never stop the worker. A ``--once`` run deletes its heartbeat row when it stops,
so cron-style runs leave no row behind; the heartbeat writer prunes the rows of
workers gone for ``ONESTEP["WORKER_HEARTBEAT_RETENTION_S"]``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WorkerTelemetry"]


class WorkerTelemetry:
    def __init__(self, app: Any, task_names: list[str], *, once: bool = False) -> None:
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
        )

    async def start(self) -> None:
        await self.recorder.start()
        await self.heartbeat.start()

    async def stop(self) -> None:
        await self.heartbeat.stop()
        await self.recorder.stop()
