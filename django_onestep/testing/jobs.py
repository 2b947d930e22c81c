"""Time travel for the database queue: make delayed jobs due now."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["make_jobs_due"]


def make_jobs_due(queues: str | Iterable[str] | None = None, *, using: str | None = None) -> int:
    """Move ``available_at`` of queued jobs (retries waiting for their delay, ``delay_s``
    enqueues) to now, so the next ``run_until_idle`` runs them. Returns how many.

    ``queues``: a queue name, several, or None for every queue.
    """
    from django.utils import timezone

    from django_onestep.conf import get_settings
    from django_onestep.models import Job

    rows = Job.objects.using(using or get_settings().DATABASE).filter(status="queued")
    if isinstance(queues, str):
        rows = rows.filter(queue=queues)
    elif queues is not None:
        rows = rows.filter(queue__in=list(queues))
    now = timezone.now()
    return rows.filter(available_at__gt=now).update(available_at=now)
