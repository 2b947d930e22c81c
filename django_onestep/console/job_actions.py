"""Operator actions on jobs: requeue, cancel, run now, delete finished.

Each walks its selection by ascending id in batches (``BATCH_SIZE`` ids read, then one
``UPDATE``/``DELETE`` fenced on the status the action applies to), so a filtered
selection of 100,000 rows is never loaded, and a job a worker claimed in between is
left alone. Every function returns how many rows it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.db import connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.dbqueue.enqueue import notify_enqueued
from django_onestep.models import DeadLetter, Job
from django_onestep.results.cancel import run_cancel_hooks

__all__ = ["BATCH_SIZE", "cancel", "delete_finished", "id_batches", "requeue", "run_now"]

BATCH_SIZE = 1000
REQUEUEABLE = (Job.Status.FAILED, Job.Status.DEAD)
FINISHED = (
    Job.Status.DONE, Job.Status.FAILED, Job.Status.DEAD, Job.Status.CANCELLED, Job.Status.EXPIRED,
    Job.Status.ABORTED,
)  # fmt: skip


def id_batches(rows: QuerySet[Job], batch_size: int | None = None) -> Iterator[list[int]]:
    """The ids of ``rows`` in ascending batches."""
    size = batch_size or BATCH_SIZE
    last = 0
    while True:
        batch = list(rows.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:size])
        if not batch:
            return
        yield batch
        last = batch[-1]


def _each_batch(rows: QuerySet[Job], statuses: tuple[str, ...], act: Callable[[Any, str], int]) -> int:
    using = get_settings().DATABASE
    changed = 0
    for ids in id_batches(rows.filter(status__in=statuses)):
        with transaction.atomic(using=using):
            changed += act(Job.objects.using(using).filter(id__in=ids, status__in=statuses), using)
    return changed


def requeue(rows: QuerySet[Job], *, by: str) -> int:
    """Failed or dead jobs run again from a fresh attempt budget; their dead letters resolve."""

    def act(batch: Any, using: str) -> int:
        now = timezone.now()
        ids = list(batch.values_list("id", flat=True))
        queues = set(batch.values_list("queue", flat=True).distinct())
        fresh = {"status": Job.Status.QUEUED, "attempts": 0, "reclaims": 0, "available_at": now}
        cleared = dict.fromkeys(("finished_at", "lease_owner", "lease_until", "claim_token"))
        count = int(batch.update(**fresh, **cleared, updated_at=now))
        # the job itself runs again: replaying its dead letter too would run it twice
        DeadLetter.objects.using(using).filter(job_id__in=ids, status=DeadLetter.Status.PENDING).update(
            status=DeadLetter.Status.RESOLVED, resolved_at=now, resolved_by=by[:150],
            resolution=DeadLetter.Resolution.REPLAYED, replay_job_id=F("job_id"),
        )  # fmt: skip
        transaction.on_commit(lambda: _wake(queues, using), using=using)
        return count

    return _each_batch(rows, REQUEUEABLE, act)


def _wake(queues: set[str], using: str) -> None:
    """Workers in this process fetch at once; others find the jobs at their next poll."""
    for queue in queues:
        notify_enqueued(queue, using)


def cancel(rows: QuerySet[Job], *, by: str) -> int:
    """Queued jobs will not run: they end ``cancelled``."""

    def act(batch: Any, using: str) -> int:
        now = timezone.now()
        ended = {"status": Job.Status.CANCELLED, "finished_at": now, "dedupe_key": None}
        ids = list(batch.select_for_update().values_list("id", flat=True))
        count = int(batch.filter(id__in=ids).update(**ended, updated_at=now, last_error=f"cancelled by {by}"))
        run_cancel_hooks(connections[using], ids)  # a workflow waiting on one of them fails
        return count

    return _each_batch(rows, (Job.Status.QUEUED,), act)


def abort(rows: QuerySet[Job]) -> int:
    """Running jobs are asked to stop; their worker does within one lease renewal."""

    def act(batch: Any, using: str) -> int:
        now = timezone.now()
        return int(
            batch.filter(abort_requested_at__isnull=True).update(abort_requested_at=now, updated_at=now)
        )

    return _each_batch(rows, (Job.Status.RUNNING,), act)


def run_now(rows: QuerySet[Job]) -> int:
    """Delayed queued jobs (``available_at`` in the future) become due at once."""
    now = timezone.now()

    def act(batch: Any, using: str) -> int:
        return int(batch.filter(available_at__gt=now).update(available_at=now, updated_at=now))

    return _each_batch(rows.filter(available_at__gt=now), (Job.Status.QUEUED,), act)


def delete_finished(rows: QuerySet[Job]) -> int:
    """Delete the finished jobs (done, failed, dead, cancelled) of the selection."""

    def act(batch: Any, using: str) -> int:
        deleted, _ = batch.delete()
        return int(deleted)

    return _each_batch(rows, FINISHED, act)
