"""ControlPlaneReporter: push heartbeats, topology, metrics and events to a control plane.

The endpoints are the ones onestep's README lists: ``POST /api/v1/agents/sync``,
``/heartbeat``, ``/metrics`` and ``/events`` (JSON, ``Authorization: Bearer``).
Reporting never affects task execution: every failure is logged, posts run in a
thread so a slow control plane never blocks the event loop, and startup does not wait
for the control plane (the first heartbeat and sync are the reporting loop's first
step). What a refused post carried is kept for the next try: the topology until a sync
is accepted, a metrics window merged into the next one, events up to
``_MAX_BUFFERED_BATCHES`` batches (the oldest are dropped past that, and counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import positive_int, positive_number

if TYPE_CHECKING:
    from django_onestep.core.events import TaskEvent
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["ControlPlaneReporter", "ControlPlaneReporterConfig"]

logger = logging.getLogger("onestep.reporter")
_IMPORTANT = frozenset({"retried", "failed", "dead_lettered", "cancelled"})
# a control plane down for long must not grow the worker's memory without bound
_MAX_BUFFERED_BATCHES = 10
_FLOAT_ENV = {
    "heartbeat_interval_s": "ONESTEP_CONTROL_PLANE_HEARTBEAT_INTERVAL_S",
    "metrics_interval_s": "ONESTEP_CONTROL_PLANE_METRICS_INTERVAL_S",
    "event_flush_interval_s": "ONESTEP_CONTROL_PLANE_EVENT_FLUSH_INTERVAL_S",
    "timeout_s": "ONESTEP_CONTROL_PLANE_TIMEOUT_S",
}


@dataclass(frozen=True)
class ControlPlaneReporterConfig:
    base_url: str
    token: str = field(repr=False)
    app_name: str
    environment: str = "dev"
    service_name: str | None = None
    node_name: str = field(default_factory=socket.gethostname)
    deployment_version: str | None = None
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    heartbeat_interval_s: float = 30.0
    metrics_interval_s: float = 60.0
    event_flush_interval_s: float = 5.0
    event_batch_size: int = 100
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must be an http(s) URL; got {self.base_url!r}")
        for name in _FLOAT_ENV:
            positive_number(name, getattr(self, name))
        positive_int("event_batch_size", self.event_batch_size)

    @classmethod
    def from_env(
        cls, *, app_name: str, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> ControlPlaneReporterConfig:
        """Read ``ONESTEP_CONTROL_PLANE_*`` (or ``ONESTEP_CONTROL_*``) variables."""
        source = os.environ if env is None else env

        def pick(*names: str) -> str | None:
            return next((source[n] for n in names if source.get(n)), None)

        values: dict[str, Any] = {
            "base_url": pick("ONESTEP_CONTROL_PLANE_URL", "ONESTEP_CONTROL_URL"),
            "token": pick("ONESTEP_CONTROL_PLANE_TOKEN", "ONESTEP_CONTROL_TOKEN"),
            "environment": pick("ONESTEP_ENV") or "dev",
            "service_name": pick("ONESTEP_SERVICE_NAME"),
            "deployment_version": pick("ONESTEP_DEPLOYMENT_VERSION"),
        }
        for key, var in (("node_name", "ONESTEP_NODE_NAME"), ("instance_id", "ONESTEP_INSTANCE_ID")):
            if pick(var):
                values[key] = pick(var)
        for key, var in {**_FLOAT_ENV, "event_batch_size": "ONESTEP_CONTROL_PLANE_EVENT_BATCH_SIZE"}.items():
            raw = pick(var)
            if raw is not None:
                try:
                    values[key] = int(raw) if key == "event_batch_size" else float(raw)
                except ValueError:
                    raise ConfigurationError(f"{var} must be a number; got {raw!r}") from None
        values.update(overrides)
        for key, names in (
            ("base_url", "ONESTEP_CONTROL_PLANE_URL"),
            ("token", "ONESTEP_CONTROL_PLANE_TOKEN"),
        ):
            if not values.get(key):
                raise ConfigurationError(f"control-plane reporter needs {key}: set {names}")
        return cls(app_name=app_name, **values)


class ControlPlaneReporter:
    """``reporter.attach(app)`` registers startup/shutdown hooks and an event handler."""

    def __init__(self, config: ControlPlaneReporterConfig) -> None:
        self.config = config
        self._app: OneStepApp | None = None
        self._events: list[dict[str, Any]] = []
        self._window: dict[str, dict[str, float]] = {}
        self._window_start = datetime.now(UTC)
        self._synced_hash: str | None = None
        self._started = time.monotonic()
        self._loop_task: asyncio.Task[None] | None = None
        self.dropped_events = 0
        self._first_heartbeat: asyncio.Task[None] | None = None

    def attach(self, app: OneStepApp) -> ControlPlaneReporter:
        self._app = app
        app.on_startup(self._on_startup)
        app.on_shutdown(self._on_shutdown)
        app.on_event(self.record)
        return self

    # -- what gets sent ------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        c = self.config
        return {
            "service_name": c.service_name or c.app_name,
            "app_name": c.app_name,
            "environment": c.environment,
            "node_name": c.node_name,
            "instance_id": c.instance_id,
            "deployment_version": c.deployment_version,
        }

    def topology(self) -> dict[str, Any]:
        from django_onestep.core.declarative.check import build_report

        report = build_report(self._app) if self._app is not None else {"tasks": []}
        keys = ("name", "source", "emit", "dead_letter", "concurrency", "retry", "timeout_s")
        return {"app": self.config.app_name, "tasks": [{k: t[k] for k in keys} for t in report["tasks"]]}

    def record(self, event: TaskEvent) -> None:
        """The ``on_event`` handler: aggregate into the metrics window, keep important ones."""
        kind = getattr(event.kind, "value", str(event.kind))
        counts = self._window.setdefault(event.task, {})
        counts[kind] = counts.get(kind, 0) + 1
        if event.duration_s is not None and kind in ("succeeded", "failed"):
            counts["duration_s_sum"] = counts.get("duration_s_sum", 0.0) + event.duration_s
            counts["duration_s_max"] = max(counts.get("duration_s_max", 0.0), event.duration_s)
        if kind in _IMPORTANT:
            self._events.append(
                {
                    "kind": kind,
                    "task": event.task,
                    "source": event.source,
                    "attempts": event.attempts,
                    "emitted_at": event.emitted_at.isoformat(),
                    "duration_s": event.duration_s,
                    "failure": event.failure.as_dict() if event.failure is not None else None,
                }
            )
            overflow = len(self._events) - _MAX_BUFFERED_BATCHES * self.config.event_batch_size
            if overflow > 0:
                del self._events[:overflow]
                self.dropped_events += overflow

    # -- transport -----------------------------------------------------------------------
    def _post_blocking(self, endpoint: str, payload: dict[str, Any]) -> int:
        request = urllib.request.Request(
            f"{self.config.base_url.rstrip('/')}/api/v1/agents/{endpoint}",
            data=json.dumps(payload, default=str).encode("utf-8"),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.config.token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
            return int(response.status)

    async def post(self, endpoint: str, payload: dict[str, Any]) -> bool:
        """POST and return True on 2xx; any failure is logged (never raised)."""
        body = {**self.identity(), "sent_at": datetime.now(UTC).isoformat(), **payload}
        try:
            status = await asyncio.to_thread(self._post_blocking, endpoint, body)
        except Exception as exc:  # reporting must never break the worker
            logger.warning("control-plane %s failed: %s", endpoint, exc.__class__.__name__ + f": {exc}")
            return False
        return 200 <= status < 300

    async def heartbeat(self) -> bool:
        uptime_s = round(time.monotonic() - self._started, 3)
        ok = await self.post("heartbeat", {"status": "running", "uptime_s": uptime_s})
        topology = self.topology()
        digest = hashlib.sha256(json.dumps(topology, sort_keys=True, default=str).encode()).hexdigest()
        if digest != self._synced_hash and await self.post(
            "sync", {"topology": topology, "topology_hash": digest}
        ):
            self._synced_hash = digest  # retried on later heartbeats until accepted
        return ok

    async def flush_events(self) -> None:
        while self._events:
            batch = self._events[: self.config.event_batch_size]
            if not await self.post("events", {"events": batch}):
                return  # kept for the next flush
            del self._events[: len(batch)]

    async def flush_metrics(self) -> None:
        window, self._window = self._window, {}
        start, end = self._window_start, datetime.now(UTC)
        if not window:
            self._window_start = end
            return
        payload = {"window_start": start.isoformat(), "window_end": end.isoformat()}
        if await self.post("metrics", {**payload, "tasks": window}):
            self._window_start = end
            return
        # refused: merged into the window still open, which keeps the older start
        for task, counts in window.items():
            current = self._window.setdefault(task, {})
            for key, value in counts.items():
                if key == "duration_s_max":
                    current[key] = max(current.get(key, 0.0), value)
                else:
                    current[key] = current.get(key, 0) + value

    async def _on_startup(self) -> None:
        # not awaited here: a slow or broken control plane must not delay the tasks
        self._first_heartbeat = asyncio.create_task(self._guarded(self.heartbeat, "heartbeat"))
        self._loop_task = asyncio.create_task(self._run(), name="onestep-control-plane-reporter")

    async def _guarded(self, step: Callable[[], Awaitable[Any]], what: str) -> None:
        try:
            await step()
        except Exception as exc:  # a bug or a bad topology: logged, the loop goes on
            logger.warning("control-plane %s failed: %s: %s", what, exc.__class__.__name__, exc)

    async def _on_shutdown(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._first_heartbeat is not None and not self._first_heartbeat.done():
            # a run shorter than one post still reports that it started (or why it could not)
            await asyncio.wait({self._first_heartbeat}, timeout=self.config.timeout_s)
        await self._guarded(self.flush_events, "events")
        await self._guarded(self.flush_metrics, "metrics")

    async def _run(self) -> None:
        c = self.config
        next_at = {"heartbeat": c.heartbeat_interval_s, "metrics": c.metrics_interval_s}
        next_at["events"] = c.event_flush_interval_s
        elapsed = 0.0
        step_s = min(next_at.values())
        if self._first_heartbeat is not None:
            await asyncio.shield(self._first_heartbeat)  # the startup heartbeat and sync
        while True:
            await asyncio.sleep(step_s)
            elapsed += step_s
            if elapsed >= next_at["events"]:
                next_at["events"] += c.event_flush_interval_s
                await self._guarded(self.flush_events, "events")
            if elapsed >= next_at["metrics"]:
                next_at["metrics"] += c.metrics_interval_s
                await self._guarded(self.flush_metrics, "metrics")
            if elapsed >= next_at["heartbeat"]:
                next_at["heartbeat"] += c.heartbeat_interval_s
                await self._guarded(self.heartbeat, "heartbeat")
