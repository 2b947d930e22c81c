"""The views of ``django_onestep.urls``: ``health/`` and ``metrics/``."""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from django_onestep.conf import get_settings
from django_onestep.endpoints.health_report import health_report
from django_onestep.endpoints.prometheus_export import CONTENT_TYPE, render_metrics

__all__ = ["health", "metrics"]


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when every check passes, 503 otherwise; the JSON says which check failed."""
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def _token_ok(request: HttpRequest, expected: str | None) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if expected is None or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text; needs ``Authorization: Bearer <ONESTEP["METRICS_TOKEN"]>``."""
    expected = get_settings().METRICS_TOKEN
    if not _token_ok(request, expected):
        hint = (
            'send "Authorization: Bearer <token>" with ONESTEP["METRICS_TOKEN"]'
            if expected
            else 'set ONESTEP["METRICS_TOKEN"] to serve metrics, then send it as a Bearer token'
        )
        response = HttpResponse(f"metrics: {hint}\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="onestep-metrics"'
        return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE)
