"""Websocket clients for the live consumers (Channels' communicator), on any layer."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from channels.testing.websocket import WebsocketCommunicator

from django_onestep.live.routing import websocket_urlpatterns

MEMORY_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def redis_layers(url: str) -> dict[str, Any]:
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}}


def communicator(path: str, user: Any) -> WebsocketCommunicator:
    client = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    client.scope["user"] = user
    return client


def staff_user(name: str = "ops", *, superuser: bool = True) -> Any:
    from django.contrib.auth.models import User

    return User.objects.create_user(name, password="pw", is_staff=True, is_superuser=superuser)
