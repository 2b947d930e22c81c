"""``websocket_urlpatterns`` for the project's ASGI application::

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django_onestep.live.routing import websocket_urlpatterns

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
})
"""

from __future__ import annotations

from django.urls import URLPattern, path

from django_onestep.live.consumers import DashboardConsumer, JobConsumer
from django_onestep.live.job_events import DASHBOARD_PATH

__all__ = ["websocket_urlpatterns"]

websocket_urlpatterns: list[URLPattern] = [
    path("ws/onestep/jobs/<int:job_id>/", JobConsumer.as_asgi()),
    path(DASHBOARD_PATH, DashboardConsumer.as_asgi()),
]
