"""Every write on a reserved chunk, run on a worker's database thread.

Each statement that settles a chunk is fenced on ``token`` and ``status='reserved'``:
a worker whose reservation expired (the chunk went back, maybe to another worker) or
was skipped by a cancel changes nothing, so ``chunks_done`` counts each chunk once.
The submission's counters move in the same transaction as the chunk they count.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F

from django_onestep.models import ChunkStatus, SubmissionChunk, SubmissionRecord, SubmissionStatus

__all__ = [
    "complete_chunk",
    "extend_reservations",
    "fail_chunk",
    "fail_submission",
    "reclaim_expired",
    "release_chunk",
    "retry_delay_after",
]

_MAX_ERROR_CHARS = 4000
_SWEEP_BATCH = 100


def complete_chunk(
    using: str, *, chunk_id: int, submission_id: int, token: str, ops: int, results: list[Any], now: datetime
) -> bool:
    """Store the chunk's results and count it done; False when the fence did not match."""
    with transaction.atomic(using=using):
        matched = (
            SubmissionChunk.objects.using(using)
            .filter(id=chunk_id, token=token, status=ChunkStatus.RESERVED)
            .update(
                status=ChunkStatus.DONE, results=results, token=None, reserved_until=None, finished_at=now
            )
        )
        if not matched:
            return False
        records = SubmissionRecord.objects.using(using).filter(id=submission_id)
        records.update(chunks_done=F("chunks_done") + 1, ops_done=F("ops_done") + ops)
        records.filter(status=SubmissionStatus.RUNNING, chunks_done=F("chunks_total")).update(
            status=SubmissionStatus.COMPLETED, finished_at=now
        )
    return True


_MAX_RETRY_DELAY_S = 300.0


def retry_delay_after(attempts: int, retry_delay_s: float) -> float:
    """The wait after failed attempt number ``attempts``: doubling, at most five minutes."""
    return float(min(retry_delay_s * 2 ** (attempts - 1), _MAX_RETRY_DELAY_S))


def fail_chunk(
    using: str, *, chunk_id: int, token: str, error: str, now: datetime, retry_delay_s: float = 0.0
) -> bool:
    """One failed attempt: back to pending, or, out of attempts, fail the submission.

    With ``retry_delay_s`` the chunk is not reserved again before ``retry_delay_s *
    2 ** (attempts - 1)`` seconds (at most five minutes): ``reserved_until`` then means
    "not before", which the reservation query honours.
    """
    error = error[:_MAX_ERROR_CHARS]
    with transaction.atomic(using=using):
        row = (
            SubmissionChunk.objects.using(using)
            .filter(id=chunk_id, token=token, status=ChunkStatus.RESERVED)
            .values_list("attempts", "index", "submission_id", "submission__max_chunk_attempts")
            .first()
        )
        if row is None:
            return False
        attempts, index, submission_id, max_attempts = row
        chunks = SubmissionChunk.objects.using(using).filter(
            id=chunk_id, token=token, status=ChunkStatus.RESERVED
        )
        if attempts < max_attempts:
            delay_s = retry_delay_after(attempts, retry_delay_s)
            not_before = now + timedelta(seconds=delay_s) if delay_s > 0 else None
            matched = chunks.update(
                status=ChunkStatus.PENDING, token=None, reserved_until=not_before, error=error
            )
            return bool(matched)
        if not chunks.update(
            status=ChunkStatus.FAILED, token=None, reserved_until=None, error=error, finished_at=now
        ):
            return False
        fail_submission(using, submission_id, index=index, error=error, now=now)
    return True


def fail_submission(using: str, submission_id: int, *, index: int, error: str, now: datetime) -> None:
    """Mark the submission failed by chunk ``index`` and skip every chunk not yet done."""
    SubmissionRecord.objects.using(using).filter(id=submission_id, status=SubmissionStatus.RUNNING).update(
        status=SubmissionStatus.FAILED, failed_chunk_index=index, error=error, finished_at=now
    )
    skip_open_chunks(using, submission_id)


def skip_open_chunks(using: str, submission_id: int) -> int:
    """Pending and reserved chunks become ``skipped``; a completion still running is fenced out."""
    return int(
        SubmissionChunk.objects.using(using)
        .filter(submission_id=submission_id, status__in=[ChunkStatus.PENDING, ChunkStatus.RESERVED])
        .update(status=ChunkStatus.SKIPPED, token=None, reserved_until=None)
    )


def release_chunk(using: str, *, chunk_id: int, token: str) -> bool:
    """Give back a chunk whose run never finished here (a graceful stop): no attempt counted."""
    return bool(
        SubmissionChunk.objects.using(using)
        .filter(id=chunk_id, token=token, status=ChunkStatus.RESERVED)
        .update(status=ChunkStatus.PENDING, token=None, reserved_until=None, attempts=F("attempts") - 1)
    )


def extend_reservations(using: str, held: list[tuple[int, str]], lease_s: float, now: datetime) -> int:
    """The heartbeat: push out the reservations this worker still holds (fenced on tokens)."""
    if not held:
        return 0
    return int(
        SubmissionChunk.objects.using(using)
        .filter(
            id__in=[chunk_id for chunk_id, _ in held],
            token__in=sorted({token for _, token in held}),
            status=ChunkStatus.RESERVED,
        )
        .update(reserved_until=now + timedelta(seconds=lease_s))
    )


def reclaim_expired(using: str, queue: str, now: datetime) -> int:
    """Chunks whose reservation expired go back (the attempt stays counted) or fail."""
    expired = list(
        SubmissionChunk.objects.using(using)
        .filter(status=ChunkStatus.RESERVED, reserved_until__lt=now, queue=queue)
        .values_list("id", "token", "attempts")[:_SWEEP_BATCH]
    )
    for chunk_id, token, attempts in expired:
        error = f"reservation expired (attempt {attempts}): the worker holding the chunk stopped or stalled"
        fail_chunk(using, chunk_id=chunk_id, token=str(token), error=error, now=now)
    return len(expired)
