"""The health report: database reachable, workers alive, queue lag, dead-letter growth.

Each check says whether it is ok and the figures it judged; the report is healthy when
every check is. Thresholds come from ``ONESTEP["HEALTH"]`` (None turns a check off).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.dbqueue.queue_stats import queue_lags_s
from django_onestep.models import DeadLetter, WorkerHeartbeat

__all__ = ["health_report", "live_workers"]


def live_workers(using: str, now: datetime, stale_after_s: float) -> int:
    """Workers whose heartbeat is fresher than ``stale_after_s`` and that did not stop."""
    since = now - timedelta(seconds=stale_after_s)
    return WorkerHeartbeat.objects.using(using).filter(last_seen__gte=since).exclude(status="stopped").count()


def _database(using: str) -> dict[str, Any]:
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True}


def health_report(now: datetime | None = None) -> tuple[bool, dict[str, Any]]:
    """``(healthy, report)``; the report is what ``health/`` answers as JSON."""
    settings = get_settings()
    using = settings.DATABASE
    limits = settings.HEALTH
    now = now or timezone.now()
    checks: dict[str, Any] = {"database": _database(using)}
    if checks["database"]["ok"]:
        stale_s = limits["WORKER_STALE_S"]
        alive = live_workers(using, now, stale_s) if stale_s else None
        checks["workers"] = {"ok": alive is None or alive > 0, "alive": alive, "stale_after_s": stale_s}
        lags = queue_lags_s(using, now)
        worst = max(lags.values(), default=0.0)
        max_lag = limits["QUEUE_LAG_S"]
        checks["queue_lag"] = {
            "ok": max_lag is None or worst <= max_lag,
            "max_lag_s": round(worst, 3),
            "limit_s": max_lag,
            "queues": {name: round(lag, 3) for name, lag in sorted(lags.items())},
        }
        hour_ago = now - timedelta(hours=1)
        recent = DeadLetter.objects.using(using).filter(last_failed_at__gte=hour_ago).count()
        max_recent = limits["DEAD_LETTERS_PER_HOUR"]
        checks["dead_letters"] = {"ok": max_recent is None or recent <= max_recent, "last_hour": recent,
                                  "limit_per_hour": max_recent}  # fmt: skip
    healthy = all(check["ok"] for check in checks.values())
    return healthy, {"status": "ok" if healthy else "unhealthy", "time": now.isoformat(), "checks": checks}
