"""``submit``/``asubmit``: stream an iterable of operations into chunk rows.

The input is read ``chunk_size`` items at a time and each chunk is written with one
INSERT, so the producer holds one chunk in memory whatever the input's length. The
whole submission is one transaction (a savepoint inside the caller's): a rollback
means it was never submitted, and workers never see half of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.sync import sync_to_async

from django_onestep.conf import get_settings
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import positive_int
from django_onestep.models import SubmissionChunk, SubmissionRecord
from django_onestep.submissions.payload_files import check_storage, encode_ops, save_payload
from django_onestep.submissions.source import SubmissionSource
from django_onestep.submissions.submission_handle import Submission

__all__ = ["asubmit", "submit"]

#: chunks whose JSON is larger than this go to storage; the row keeps the file's name
DEFAULT_OFFLOAD_OVER_BYTES = 256 * 1024


def _target(task: Any) -> tuple[str, str | None]:
    """``(queue name, database alias or None)`` of a task, a SubmissionSource or a name."""
    if isinstance(task, str):
        return task, None
    spec = getattr(task, "task_spec", None)
    source = getattr(spec, "source", None) if spec is not None else task
    if isinstance(source, SubmissionSource):
        return source.name, source.using
    raise ConfigurationError(
        f"submit: task must be a task declared with source=SubmissionSource(...), a SubmissionSource "
        f"or its name, got {task!r}"
    )


def submit(
    task: Any,
    iterable: Iterable[Any],
    *,
    chunk_size: int = 1000,
    metadata: Mapping[str, Any] | None = None,
    max_chunk_attempts: int = 10,
    collect_errors: bool = False,
    storage: str = "default",
    offload_over_bytes: int = DEFAULT_OFFLOAD_OVER_BYTES,
    using: str | None = None,
) -> Submission:
    """Submit every item of ``iterable`` as one operation for ``task``; returns the handle."""
    from django.db import transaction
    from django.utils import timezone

    queue, source_using = _target(task)
    using = using or source_using or get_settings().DATABASE
    chunk_size = positive_int("submit chunk_size", chunk_size)
    max_chunk_attempts = positive_int("submit max_chunk_attempts", max_chunk_attempts)
    offload_over_bytes = positive_int("submit offload_over_bytes", offload_over_bytes)
    check_storage(storage)
    items = iter(iterable)
    with transaction.atomic(using=using):
        record = SubmissionRecord.objects.using(using).create(
            queue=queue,
            metadata=dict(metadata or {}),
            chunk_size=chunk_size,
            max_chunk_attempts=max_chunk_attempts,
            collect_errors=collect_errors,
            created_at=timezone.now(),
        )
        chunks = ops_total = 0
        while ops := list(itertools.islice(items, chunk_size)):
            data = encode_ops(ops)
            offloaded = len(data) > offload_over_bytes
            SubmissionChunk.objects.using(using).create(
                submission=record,
                queue=queue,
                index=chunks,
                ops=len(ops),
                payload=None if offloaded else ops,
                payload_file=save_payload(storage, record.id, chunks, data) if offloaded else "",
            )
            chunks += 1
            ops_total += len(ops)
        SubmissionRecord.objects.using(using).filter(id=record.id).update(
            chunks_total=chunks,
            ops_total=ops_total,
            # an empty submission has nothing left to do
            **(
                {"status": SubmissionRecord.Status.COMPLETED, "finished_at": timezone.now()}
                if not chunks
                else {}
            ),
        )
    return Submission(record.id, using=using)


async def asubmit(task: Any, iterable: Iterable[Any], **options: Any) -> Submission:
    """``submit`` from async code (on Django's sync thread; pass a sync iterable)."""
    return await sync_to_async(submit, thread_sensitive=True)(task, iterable, **options)
