"""Websocket consumers: one job's events (``JobConsumer``) and the admin dashboard's.

Route them in the project's ASGI application (``websocket_urlpatterns`` in
``django_onestep.live.routing``) behind Channels' ``AuthMiddlewareStack``, so
``scope["user"]`` is the logged-in user. ``JobConsumer.has_permission`` decides who may
watch a job: staff by default; override it (e.g. the job's owner) in a subclass.

A subscriber first gets the job's current status (``{"event": "status", ...}``), so a
browser that connects after the job finished still learns how it ended, then every
event published for the job. The dashboard consumer needs the admin's view permission
on task metrics.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from django_onestep.conf import get_settings
from django_onestep.live.job_events import DASHBOARD_GROUP, job_group

__all__ = ["DashboardConsumer", "JobConsumer"]

# Close codes in the application range (4000-4999): a browser can tell "no" from a crash.
FORBIDDEN = 4403
NOT_FOUND = 4404


def _job_status(job_id: int) -> dict[str, Any] | None:
    from django_onestep.models import Job

    row = (
        Job.objects.using(get_settings().DATABASE)
        .filter(pk=job_id)
        .values("status", "attempts", "queue", "last_error")
        .first()
    )
    return dict(row) if row is not None else None


class JobConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # channels ships no types
    """``ws/onestep/jobs/<job_id>/``: the job's status, then its progress and result."""

    group: str | None = None

    async def has_permission(self, user: Any, job_id: int) -> bool:
        """Who may watch ``job_id``; the default is active staff users."""
        return bool(getattr(user, "is_active", False) and getattr(user, "is_staff", False))

    async def connect(self) -> None:
        job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        if not await self.has_permission(self.scope.get("user"), job_id):
            await self.close(code=FORBIDDEN)
            return
        status = await sync_to_async(_job_status)(job_id)
        if status is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = job_group(job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"job_id": str(job_id), "event": "status", "data": status})

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return None  # subscribers only listen

    async def onestep_job_event(self, message: dict[str, Any]) -> None:
        await self.send_json({key: message[key] for key in ("job_id", "event", "data")})


class DashboardConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """``ws/onestep/dashboard/``: a message per task with news, for the admin dashboard."""

    joined = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        allowed = getattr(user, "is_active", False) and await sync_to_async(user.has_perm)(
            "django_onestep.view_taskmetric"
        )
        if not allowed:
            await self.close(code=FORBIDDEN)
            return
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        self.joined = True
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.joined:
            await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def onestep_dashboard_change(self, message: dict[str, Any]) -> None:
        await self.send_json({"task": message["task"], "kind": message["kind"]})
