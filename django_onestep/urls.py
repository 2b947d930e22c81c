"""Monitoring endpoints: ``path("onestep/", include("django_onestep.urls"))``.

``health/`` (JSON, 503 when unhealthy) and ``metrics/`` (Prometheus text, token-protected).
"""

from __future__ import annotations

from django.urls import path

from django_onestep.endpoints.endpoint_views import health, metrics

app_name = "onestep"

urlpatterns = [
    path("health/", health, name="health"),
    path("metrics/", metrics, name="metrics"),
]
