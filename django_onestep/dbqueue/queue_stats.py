"""Figures about the database queues, each from an indexed range of ``Job`` rows.

No function here counts ``done`` jobs as a whole (most of a busy table): throughput is
read from the recently finished ones, through the ``(status, finished_at)`` index.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min

from django_onestep.models import Job

__all__ = ["OPEN_STATUSES", "finished_since", "queue_lags_s", "queue_names", "status_counts"]

#: The statuses counted in full: each is a small part of a healthy table.
OPEN_STATUSES = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.FAILED, Job.Status.DEAD)


def queue_names(using: str) -> list[str]:
    """Every queue with a job (a loose scan of the claim index: one step per queue)."""
    return list(Job.objects.using(using).order_by().values_list("queue", flat=True).distinct())


def queue_lags_s(using: str, now: datetime) -> dict[str, float]:
    """Per queue, how long its oldest due, queued job has waited (seconds)."""
    # naming the queues lets the claim index (queue, status, ..., available_at) cover it
    rows = (
        Job.objects.using(using)
        .filter(queue__in=queue_names(using), status=Job.Status.QUEUED, available_at__lte=now)
        .values("queue")
        .annotate(oldest=Min("available_at"))
        .order_by()
    )
    return {row["queue"]: max((now - row["oldest"]).total_seconds(), 0.0) for row in rows}


def status_counts(using: str, statuses: tuple[str, ...] = OPEN_STATUSES) -> dict[str, dict[str, int]]:
    """``{queue: {status: count}}`` for ``statuses``."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        Job.objects.using(using)
        .filter(queue__in=queue_names(using), status__in=statuses)  # covered by the claim index
        .values("queue", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[row["queue"]][row["status"]] = row["n"]
    return dict(counts)


def finished_since(using: str, now: datetime, window_s: float) -> dict[str, int]:
    """Per queue, the jobs that finished ``done`` in the last ``window_s`` seconds."""
    since = now - timedelta(seconds=window_s)
    rows: Any = (
        Job.objects.using(using)
        .filter(status=Job.Status.DONE, finished_at__gte=since)
        .values("queue")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["queue"]: row["n"] for row in rows}
