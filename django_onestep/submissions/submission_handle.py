"""``Submission``: the producer's handle on one batch, and ``SubmissionFailed``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async

from django_onestep.core.errors import OneStepError
from django_onestep.models import SubmissionChunk, SubmissionRecord, SubmissionStatus
from django_onestep.submissions import chunk_rows

__all__ = ["Progress", "Submission", "SubmissionFailed", "cancel_submission", "eta_of", "rate_of"]

_RESULT_PAGE_CHUNKS = 4  # results() holds at most this many chunks' results at once
_FINAL = (SubmissionStatus.COMPLETED, SubmissionStatus.FAILED, SubmissionStatus.CANCELLED)


class SubmissionFailed(OneStepError):
    """A chunk used up its attempts: ``chunk_index`` and its error's ``exception_type``."""

    def __init__(self, submission_id: int, chunk_index: int | None, error: str) -> None:
        self.submission_id = submission_id
        self.chunk_index = chunk_index
        self.error = error
        self.exception_type, _, self.message = error.partition(": ")
        super().__init__(f"submission {submission_id} failed: chunk {chunk_index} raised {error}")


@dataclass(frozen=True)
class Progress:
    chunks_done: int
    chunks_total: int
    ops_done: int
    ops_total: int

    @property
    def fraction(self) -> float:
        return self.chunks_done / self.chunks_total if self.chunks_total else 1.0


class Submission:
    """A submitted batch. Every property reads the current row."""

    def __init__(self, id: int, *, using: str = "default") -> None:
        self.id = id
        self.using = using

    def __repr__(self) -> str:
        return f"<Submission {self.id}>"

    def record(self) -> SubmissionRecord:
        return SubmissionRecord.objects.using(self.using).get(id=self.id)

    @property
    def status(self) -> str:
        return str(
            SubmissionRecord.objects.using(self.using).values_list("status", flat=True).get(id=self.id)
        )

    @property
    def progress(self) -> Progress:
        row = (
            SubmissionRecord.objects.using(self.using)
            .values_list("chunks_done", "chunks_total", "ops_done", "ops_total")
            .get(id=self.id)
        )
        return Progress(*row)

    @property
    def rate(self) -> float | None:
        """Operations done per second since the submission was made (None before any)."""
        return rate_of(self.record())

    @property
    def eta(self) -> timedelta | None:
        return eta_of(self.record())

    # ----- waiting -----------------------------------------------------------------

    def _outcome(self) -> str | None:
        record = self.record()
        if record.status == SubmissionStatus.FAILED:
            raise SubmissionFailed(self.id, record.failed_chunk_index, record.error)
        return record.status if record.status in _FINAL else None

    def wait(self, timeout: float | None = None, *, poll_s: float = 0.5) -> str:
        """Block until the submission ends; its final status (``completed``, ``cancelled``).

        Raises ``SubmissionFailed`` when a chunk used up its attempts, ``TimeoutError``
        after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while (outcome := self._outcome()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"submission {self.id} still {self.status} after {timeout}s")
            time.sleep(poll_s)
        return outcome

    async def aget(self, *, poll_s: float = 0.5) -> str:
        """``wait`` for async code (bound it with ``asyncio.timeout``)."""
        outcome = sync_to_async(self._outcome, thread_sensitive=True)
        while True:  # the row is the only signal: another process settles the chunks
            status = await outcome()
            if status is not None:
                return status
            await asyncio.sleep(poll_s)

    # ----- control -----------------------------------------------------------------

    def cancel(self) -> bool:
        """Stop the submission: chunks not done are skipped, a completion in flight is
        rejected. False when it had already ended."""
        return cancel_submission(self.using, self.id)

    def results(self) -> Iterator[Any]:
        """Every operation's result in input order (a completed submission only).

        Reads a few chunks at a time; with ``collect_errors`` a failed operation's
        result is ``{"error": "<ExceptionType>: <message>"}``.
        """
        status = self._outcome()
        if status != SubmissionStatus.COMPLETED:
            raise RuntimeError(
                f"submission {self.id} is {status or self.status}: results() needs it completed"
            )
        next_index = 0
        while True:
            page = list(
                SubmissionChunk.objects.using(self.using)
                .filter(submission_id=self.id, index__gte=next_index)
                .order_by("index")
                .values_list("index", "results")[:_RESULT_PAGE_CHUNKS]
            )
            if not page:
                return
            for index, results in page:
                yield from results or []
                next_index = index + 1


def cancel_submission(using: str, submission_id: int) -> bool:
    from django.db import connections, transaction
    from django.utils import timezone

    from django_onestep.orm.dbthread import retry_lock_conflicts

    def cancel() -> bool:
        with transaction.atomic(using=using):
            cancelled = (
                SubmissionRecord.objects.using(using)
                .filter(id=submission_id, status=SubmissionStatus.RUNNING)
                .update(status=SubmissionStatus.CANCELLED, finished_at=timezone.now())
            )
            if cancelled:
                chunk_rows.skip_open_chunks(using, submission_id)
        return bool(cancelled)

    if connections[using].in_atomic_block:
        return cancel()  # part of the caller's transaction: a deadlock rolls all of it back
    # workers settling chunks lock the same rows: MySQL/MariaDB may pick this as the
    # deadlock victim, and the whole transaction can simply run again
    return retry_lock_conflicts(cancel)


def rate_of(record: SubmissionRecord) -> float | None:
    from django.utils import timezone

    end = record.finished_at or timezone.now()
    elapsed_s = (end - record.created_at).total_seconds()
    if not record.ops_done or elapsed_s <= 0:
        return None
    return record.ops_done / elapsed_s


def eta_of(record: SubmissionRecord) -> timedelta | None:
    if record.status != SubmissionStatus.RUNNING:
        return None
    rate = rate_of(record)
    if rate is None:
        return None
    return timedelta(seconds=(record.ops_total - record.ops_done) / rate)
