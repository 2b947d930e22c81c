"""Replay and discard dead letters from the admin: synchronous, in bounded batches.

A replay enqueues the payload (or an edited one) as a new job on the database queue the
dead letter came from, with the original meta and a fresh attempt budget (the new job
starts at zero runs, unlike ``app.replay_task_dead_letters``, which keeps the count).
The new job and the dead letter's resolution are written in one transaction, so a
dead letter is replayed at most once even when two operators click at the same time.

Only dead letters of database-queue jobs (``job_id`` set) can be replayed here: for a
broker source the admin process holds no connection, so those are left pending and
counted as skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.dbqueue.enqueue import insert_job
from django_onestep.models import DeadLetter

__all__ = ["BATCH_SIZE", "Outcome", "discard", "pending_ids", "replay", "replayable"]

BATCH_SIZE = 500
_KEEP: Any = object()


@dataclass
class Outcome:
    """What one action did: the rows it resolved, and those it left as they were."""

    resolved: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # not pending, or not replayable here


def pending_ids(rows: QuerySet[DeadLetter], batch_size: int = BATCH_SIZE) -> Iterator[list[int]]:
    """The ids of ``rows`` in ascending batches, never the whole selection in memory."""
    last = 0
    while True:
        batch = list(rows.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1]


def _locked_pending(ids: list[int], using: str) -> list[DeadLetter]:
    return list(
        DeadLetter.objects.using(using)
        .select_for_update()
        .filter(id__in=ids, status=DeadLetter.Status.PENDING)
        .order_by("id")
    )


def _resolve(row: DeadLetter, using: str, *, by: str, how: str, job_id: int | None = None) -> None:
    DeadLetter.objects.using(using).filter(id=row.id).update(
        status=DeadLetter.Status.RESOLVED,
        claim_token=None,
        resolved_at=timezone.now(),
        resolved_by=by[:150],
        resolution=how,
        replay_job_id=job_id,
    )


def replayable(row: DeadLetter) -> bool:
    """A dead letter of a database-queue job: its source names the queue."""
    return row.job_id is not None and bool(row.source)


def replay(rows: QuerySet[DeadLetter], *, by: str, payload: Any = _KEEP) -> Outcome:
    """Enqueue each pending, replayable row of ``rows`` again; ``payload`` replaces theirs.

    One transaction a batch: the rows are locked, each new job inserted and its dead
    letter resolved together.
    """
    using = get_settings().DATABASE
    outcome = Outcome()
    for ids in pending_ids(rows):
        with transaction.atomic(using=using):
            locked = {row.id: row for row in _locked_pending(ids, using)}
            for row_id in ids:
                row = locked.get(row_id)
                if row is None or not replayable(row):
                    outcome.skipped.append(row_id)
                    continue
                body = row.payload if payload is _KEEP else payload
                job_id = insert_job(row.source, using, body, meta=row.original_meta or {}, attempts=0)
                _resolve(row, using, by=by, how=DeadLetter.Resolution.REPLAYED, job_id=job_id)
                outcome.resolved.append(row_id)
    return outcome


def discard(rows: QuerySet[DeadLetter], *, by: str) -> Outcome:
    """Resolve each pending row of ``rows`` without running it again (one UPDATE a batch)."""
    using = get_settings().DATABASE
    outcome = Outcome()
    for ids in pending_ids(rows):
        with transaction.atomic(using=using):
            pending = DeadLetter.objects.using(using).filter(id__in=ids, status=DeadLetter.Status.PENDING)
            held = list(pending.select_for_update().values_list("id", flat=True))
            DeadLetter.objects.using(using).filter(id__in=held).update(
                status=DeadLetter.Status.RESOLVED, claim_token=None, resolved_at=timezone.now(),
                resolved_by=by[:150], resolution=DeadLetter.Resolution.DISCARDED,
            )  # fmt: skip
        outcome.resolved.extend(held)
        outcome.skipped.extend(sorted(set(ids) - set(held)))
    return outcome
