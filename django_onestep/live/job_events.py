"""One job's events, pushed to whoever subscribed to it: the interface results use.

``publish_job_event(job_id, "progress", {"done": 3, "total": 10})`` (sync, from a
handler or a view) or ``await apublish_job_event(...)`` (async) sends the event to the
job's group; ``JobConsumer`` forwards it to each subscribed browser as
``{"job_id", "event", "data"}``. Conventional kinds: ``progress`` (any JSON data),
``result`` (``{"status": ..., "value": ...}``) and ``status``. Whatever records job
progress or results calls these; they never raise when Channels is missing or the layer
fails (a browser not updated must never fail a task), and return whether it was sent.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = [
    "DASHBOARD_GROUP",
    "apublish_dashboard_change",
    "apublish_job_event",
    "channel_layer",
    "job_group",
    "live_dashboard_path",
    "live_enabled",
    "publish_job_event",
]

logger = logging.getLogger("django_onestep.live")

DASHBOARD_GROUP = "onestep.dashboard"
DASHBOARD_PATH = "ws/onestep/dashboard/"  # where live.routing serves DashboardConsumer
JOB_EVENT_TYPE = "onestep.job_event"  # handled by JobConsumer.onestep_job_event
_GROUP_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def job_group(job_id: Any) -> str:
    """The Channels group of one job (group names allow only ``[A-Za-z0-9_.-]``)."""
    return "onestep.job." + _GROUP_UNSAFE.sub("_", str(job_id))[:80]


def channel_layer(alias: str = "default") -> Any:
    """The configured channel layer, or None (Channels not installed, or no ``CHANNEL_LAYERS``)."""
    try:
        from channels.layers import get_channel_layer
    except ImportError:
        return None
    from django.conf import settings

    if alias not in getattr(settings, "CHANNEL_LAYERS", {}):
        return None
    return get_channel_layer(alias)


def live_enabled() -> bool:
    return channel_layer() is not None


def live_dashboard_path() -> str:
    """The dashboard's websocket path when a layer is configured, else "" (it polls)."""
    return "/" + DASHBOARD_PATH if live_enabled() else ""


def _message(job_id: Any, kind: str, data: Any) -> dict[str, Any]:
    return {"type": JOB_EVENT_TYPE, "job_id": str(job_id), "event": kind, "data": data}


async def apublish_job_event(job_id: Any, kind: str, data: Any = None) -> bool:
    layer = channel_layer()
    if layer is None:
        return False
    try:
        await layer.group_send(job_group(job_id), _message(job_id, kind, data))
    except Exception as exc:  # the layer is down or the message too big: the task goes on
        logger.warning("live job event %s for job %s not sent: %s: %s", kind, job_id, type(exc).__name__, exc)
        return False
    return True


def publish_job_event(job_id: Any, kind: str, data: Any = None) -> bool:
    """Sync twin of ``apublish_job_event`` (not from a running event loop's thread)."""
    if channel_layer() is None:
        return False
    from asgiref.sync import async_to_sync

    return bool(async_to_sync(apublish_job_event)(job_id, kind, data))


async def apublish_dashboard_change(task: str, kind: str) -> bool:
    """Tell open dashboards that ``task`` has news (they reload once metrics are written)."""
    layer = channel_layer()
    if layer is None:
        return False
    try:
        await layer.group_send(
            DASHBOARD_GROUP, {"type": "onestep.dashboard_change", "task": task, "kind": kind}
        )
    except Exception as exc:
        logger.warning("live dashboard change not sent: %s: %s", type(exc).__name__, exc)
        return False
    return True
