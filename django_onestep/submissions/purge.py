"""Retention: delete ended submissions (their chunks and offloaded files) in batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django_onestep.models import SubmissionChunk, SubmissionRecord, SubmissionStatus
from django_onestep.submissions.payload_files import delete_payload

__all__ = ["ENDED", "purge_ended", "purge_ended_before", "purge_submission"]

_CHUNK_BATCH = 1000
ENDED = (SubmissionStatus.COMPLETED, SubmissionStatus.FAILED, SubmissionStatus.CANCELLED)


def purge_submission(using: str, submission_id: int) -> int:
    """Delete one submission, its chunks and their files; the number of chunks deleted.

    Files go first: a purge interrupted midway leaves rows naming missing files (the
    next purge finishes it), never files no row names.
    """
    chunks = SubmissionChunk.objects.using(using).filter(submission_id=submission_id)
    for payload_file in chunks.exclude(payload_file="").values_list("payload_file", flat=True).iterator():
        delete_payload(payload_file)
    deleted = 0
    while ids := list(chunks.values_list("id", flat=True)[:_CHUNK_BATCH]):
        deleted += (
            SubmissionChunk.objects.using(using).filter(id__in=ids).delete()[0]
        )  # one DELETE: nothing cascades
    SubmissionRecord.objects.using(using).filter(id=submission_id).delete()
    return deleted


def purge_ended(using: str, submission_id: int) -> bool:
    """Purge the submission if it ended (a running one is left to its workers)."""
    if not SubmissionRecord.objects.using(using).filter(id=submission_id, status__in=ENDED).exists():
        return False
    purge_submission(using, submission_id)
    return True


def purge_ended_before(
    using: str, cutoff: datetime, *, progress: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Purge every submission that ended (completed, failed, cancelled) before ``cutoff``.

    Returns ``(submissions, chunks)`` deleted; ``progress(done, total)`` after each one.
    """
    ended = SubmissionRecord.objects.using(using).filter(status__in=ENDED, finished_at__lt=cutoff)
    ids = list(ended.order_by("id").values_list("id", flat=True))
    chunks = 0
    for done, submission_id in enumerate(ids, start=1):
        chunks += purge_submission(using, submission_id)
        if progress is not None:
            progress(done, len(ids))
    return len(ids), chunks
