"""``path("onestep/", include("django_onestep.urls"))``: monitoring endpoints and webhooks.

- ``health/`` (JSON, 503 when unhealthy) and ``metrics/`` (Prometheus text,
  token-protected): ``reverse("django_onestep:health")``, ``"django_onestep:metrics"``.
- ``push/deliveries/...``: the push JSON API (``django_onestep.pushes.api``).
- One URL per ``WebhookSource`` path of the project app's tasks (``tasks.py`` modules are
  imported by the app's ``ready()``, before any URLconf), relative to where this module
  is included; a trailing slash is optional. Names: ``django_onestep:webhook<path>``.
"""

from __future__ import annotations

from django.urls import path

from django_onestep.endpoints.endpoint_views import health, metrics
from django_onestep.pushes.api import push_urlpatterns
from django_onestep.webhooks.urlpatterns import webhook_urlpatterns

app_name = "django_onestep"

urlpatterns = [
    path("health/", health, name="health"),
    path("metrics/", metrics, name="metrics"),
    *push_urlpatterns(),
    *webhook_urlpatterns(),
]
