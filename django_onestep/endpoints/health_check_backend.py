"""A ``django-health-check`` check (4.x) for teams that already serve its page.

    path("ht/", HealthCheckView.as_view(checks=[
        "health_check.checks.Database",
        "django_onestep.endpoints.health_check_backend.OneStepHealthCheck",
    ])),

It runs the same checks as ``health/`` (``health_report``) and reports the failing ones
by name; the thresholds are the same ``ONESTEP["HEALTH"]`` settings.
"""

from __future__ import annotations

import dataclasses

from django_onestep.core.errors import MissingExtraError
from django_onestep.endpoints.health_report import health_report

try:
    from health_check.base import HealthCheck
    from health_check.exceptions import ServiceUnavailable
except ImportError as exc:  # pragma: no cover - the extra is missing
    raise MissingExtraError("health_check", "healthcheck") from exc

__all__ = ["OneStepHealthCheck"]


@dataclasses.dataclass
class OneStepHealthCheck(HealthCheck):
    """Unavailable when the database, the workers, the queue lag or the dead letters fail."""

    def run(self) -> None:  # a sync check is allowed: django-health-check runs it in a thread
        healthy, report = health_report()
        if not healthy:
            failing = sorted(name for name, check in report["checks"].items() if not check["ok"])
            raise ServiceUnavailable(f"onestep: {', '.join(failing)} not healthy (see onestep health/)")
