"""Cancelling a job: a queued one never runs; a running one is asked to stop.

Each step is one fenced ``UPDATE``, so a job a worker claims in between is caught by the
second (it is running by then). The worker holding a running job reads
``abort_requested_at`` at each lease renewal (``dbqueue/upkeep.py``) and stops it.
"""

from __future__ import annotations

__all__ = ["cancel_job"]


def cancel_job(job_id: int, using: str) -> str | None:
    """``"cancelled"``, ``"aborting"``, or None when the job is finished or missing."""
    from django.utils import timezone

    from django_onestep.models import Job

    now = timezone.now()
    jobs = Job.objects.using(using).filter(pk=job_id)
    if jobs.filter(status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELLED, finished_at=now, updated_at=now, dedupe_key=None
    ):
        from django.db import connections

        from django_onestep.results.notify import notify_finished

        notify_finished(connections[using], [job_id])
        return "cancelled"
    if jobs.filter(status=Job.Status.RUNNING).update(abort_requested_at=now, updated_at=now):
        return "aborting"
    return None
