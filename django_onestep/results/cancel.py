"""Cancelling a job: a queued one never runs; a running one is asked to stop.

Each step is one fenced ``UPDATE``, so a job a worker claims in between is caught by the
second (it is running by then). The worker holding a running job reads
``abort_requested_at`` at each lease renewal (``dbqueue/upkeep.py``) and stops it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["cancel_job", "register_cancel_hook", "run_cancel_hooks"]

# Called in the transaction that cancels a queued job (a workflow fails its step there)
_cancel_hooks: list[Callable[[Any, int], None]] = []


def register_cancel_hook(hook: Callable[[Any, int], None]) -> None:
    """Run ``hook(connection, job_id)`` when a queued job is cancelled (once per hook)."""
    if hook not in _cancel_hooks:
        _cancel_hooks.append(hook)


def run_cancel_hooks(connection: Any, job_ids: list[int]) -> None:
    """For code that cancels queued jobs itself (the admin): call inside its transaction."""
    for job_id in job_ids:
        for hook in _cancel_hooks:
            hook(connection, job_id)


def cancel_job(job_id: int, using: str) -> str | None:
    """``"cancelled"``, ``"aborting"``, or None when the job is finished or missing."""
    from django.db import connections, transaction
    from django.utils import timezone

    from django_onestep.models import Job
    from django_onestep.results.notify import notify_finished

    now = timezone.now()
    jobs = Job.objects.using(using).filter(pk=job_id)
    with transaction.atomic(using=using):
        if jobs.filter(status=Job.Status.QUEUED).update(
            status=Job.Status.CANCELLED, finished_at=now, updated_at=now, dedupe_key=None
        ):
            notify_finished(connections[using], [job_id])
            run_cancel_hooks(connections[using], [job_id])
            return "cancelled"
    if jobs.filter(status=Job.Status.RUNNING).update(abort_requested_at=now, updated_at=now):
        return "aborting"
    return None
