"""Reserving one chunk: pick by strategy, lock it (SKIP LOCKED where the database has
it), and mark it reserved with a fresh token and lease, counting the attempt.

The update is fenced on ``status='pending'`` too, so on SQLite (no row locks) two
workers racing for one chunk cannot both win: the loser tries the next candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F

from django_onestep.models import ChunkStatus, SubmissionChunk, SubmissionRecord
from django_onestep.orm.dbthread import retry_lock_conflicts
from django_onestep.submissions.strategies import PreferDistinct, Strategy, candidate_ids

__all__ = ["ReservedChunk", "reserve_chunk"]

_TRIES = 5


@dataclass(frozen=True)
class ReservedChunk:
    id: int
    submission_id: int
    index: int
    token: str
    attempts: int  # this reservation included
    ops: int
    payload: Any
    payload_file: str
    collect_errors: bool
    max_attempts: int  # the submission's max_chunk_attempts


def reserve_chunk(
    using: str, queue: str, strategy: Strategy, *, token: str, lease_s: float, now: datetime
) -> ReservedChunk | None:
    until = now + timedelta(seconds=lease_s)
    return retry_lock_conflicts(lambda: _reserve_once(using, queue, strategy, token, until, now), _TRIES)


def _reserve_once(
    using: str, queue: str, strategy: Strategy, token: str, until: datetime, now: datetime
) -> ReservedChunk | None:
    with transaction.atomic(using=using):
        for chunk_id in candidate_ids(using, queue, strategy, now):
            matched = (
                SubmissionChunk.objects.using(using)
                .filter(id=chunk_id, status=ChunkStatus.PENDING)
                .update(
                    status=ChunkStatus.RESERVED, token=token, reserved_until=until, attempts=F("attempts") + 1
                )
            )
            if matched:
                return _load(using, chunk_id, token, strategy, now)
    return None


def _load(using: str, chunk_id: int, token: str, strategy: Strategy, now: datetime) -> ReservedChunk:
    row = (
        SubmissionChunk.objects.using(using)
        .filter(id=chunk_id)
        .values_list(
            "submission_id",
            "index",
            "attempts",
            "ops",
            "payload",
            "payload_file",
            "submission__collect_errors",
            "submission__max_chunk_attempts",
        )
        .get()
    )
    submission_id = row[0]
    if isinstance(strategy, PreferDistinct):  # the rotation's clock
        SubmissionRecord.objects.using(using).filter(id=submission_id).update(last_reserved_at=now)
    return ReservedChunk(
        id=chunk_id,
        submission_id=submission_id,
        index=row[1],
        token=token,
        attempts=row[2],
        ops=row[3],
        payload=row[4],
        payload_file=row[5],
        collect_errors=row[6],
        max_attempts=row[7],
    )
