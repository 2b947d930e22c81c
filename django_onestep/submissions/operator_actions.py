"""What an operator does to a submission: retry its failed chunks (cancel and purge are
``cancel_submission`` and ``purge_submission``)."""

from __future__ import annotations

from django.db import transaction

from django_onestep.models import ChunkStatus, SubmissionChunk, SubmissionRecord, SubmissionStatus

__all__ = ["retry_failed_chunks"]


def retry_failed_chunks(using: str, submission_id: int) -> int:
    """Run a failed or cancelled submission's unfinished chunks again, each with a fresh
    attempt budget; the number of chunks put back (0 when it was not failed or cancelled)."""
    with transaction.atomic(using=using):
        reopened = (
            SubmissionRecord.objects.using(using)
            .filter(id=submission_id, status__in=[SubmissionStatus.FAILED, SubmissionStatus.CANCELLED])
            .update(status=SubmissionStatus.RUNNING, failed_chunk_index=None, error="", finished_at=None)
        )
        if not reopened:
            return 0
        return int(
            SubmissionChunk.objects.using(using)
            .filter(submission_id=submission_id, status__in=[ChunkStatus.FAILED, ChunkStatus.SKIPPED])
            .update(status=ChunkStatus.PENDING, attempts=0, token=None, reserved_until=None)
        )
