"""What tells open dashboards to refresh: task signals, at most one message per task a second.

Connected by the app's ``ready()`` when a channel layer is configured. The dashboard
reloads after the workers' next metrics write (``METRICS_FLUSH_INTERVAL_S``), so one
message per task and second is plenty, and a busy worker does not flood the layer.
"""

from __future__ import annotations

import time
from typing import Any

from django_onestep.live.job_events import apublish_dashboard_change
from django_onestep.signals import task_dead_lettered, task_failed, task_succeeded

__all__ = ["connect_dashboard_feed"]

MIN_INTERVAL_S = 1.0
_last_sent: dict[str, float] = {}


async def _on_task_event(sender: Any, task_name: str, event: Any, **kwargs: Any) -> None:
    now = time.monotonic()
    if now - _last_sent.get(task_name, float("-inf")) < MIN_INTERVAL_S:
        return
    _last_sent[task_name] = now
    await apublish_dashboard_change(task_name, getattr(event.kind, "value", str(event.kind)))


def connect_dashboard_feed() -> None:
    for signal in (task_succeeded, task_failed, task_dead_lettered):
        signal.connect(_on_task_event, dispatch_uid=f"django_onestep.live.{id(signal)}")
