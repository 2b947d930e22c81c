"""Writing jobs: in the caller's thread and transaction (an outbox), or in bulk.

A job written inside ``transaction.atomic()`` exists only if that transaction
commits. In-process queues waiting for work are woken ``on_commit``; on PostgreSQL the
enqueue also sends a ``NOTIFY`` in that transaction, which wakes the queues of other
processes (``wakeups.py``) once it commits.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django_onestep.core.validation import int_between, non_negative_number
from django_onestep.dbqueue.concurrency_keys import key_for

if TYPE_CHECKING:
    from django_onestep.dbqueue.queue import DatabaseQueue

__all__ = [
    "CHANNEL",
    "SEND_OPTIONS",
    "check_send_options",
    "insert_job",
    "insert_jobs",
    "notify_enqueued",
    "register_listener",
    "wake_all",
]

CHANNEL = "django_onestep_enqueued"  # PostgreSQL NOTIFY channel; the payload is the queue name

_BULK_BATCH = 500
_listeners: weakref.WeakSet[DatabaseQueue] = weakref.WeakSet()


def register_listener(queue: DatabaseQueue) -> None:
    _listeners.add(queue)


def notify_enqueued(queue_name: str, using: str) -> None:
    """Wake this process's open queues named ``queue_name`` (thread-safe)."""
    for queue in list(_listeners):
        if queue.name == queue_name and queue.using == using:
            queue.wake()


def wake_all(using: str) -> None:
    """Wake every open queue of this process on ``using`` (thread-safe)."""
    for queue in list(_listeners):
        if queue.using == using:
            queue.wake()


def _notify_other_processes(queue_name: str, using: str) -> None:
    """On PostgreSQL, NOTIFY in the current transaction: delivered only if it commits."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, queue_name])


def check_json(queue_name: str, what: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"DatabaseQueue({queue_name!r}): {what} must be JSON serializable ({exc}); "
            "convert datetimes, decimals and objects to strings or numbers first"
        ) from None


SEND_OPTIONS = ("delay_s", "run_at", "priority", "dedupe_key", "meta", "expires_s", "expires_at")
_PRIORITY_RANGE = (-(2**31), 2**31 - 1)  # the column is a 32-bit IntegerField


def check_send_options(queue_name: str, method: str, options: Mapping[str, Any]) -> None:
    """A misspelt option names itself and the valid ones (not ``insert_job()``'s TypeError)."""
    unknown = sorted(set(options) - set(SEND_OPTIONS))
    if unknown:
        raise TypeError(
            f"DatabaseQueue({queue_name!r}).{method}(): unknown option {unknown[0]!r} "
            f"(options: {', '.join(SEND_OPTIONS)})"
        )


def resolve_available_at(now: datetime, delay_s: float | None, run_at: datetime | None) -> datetime:
    if delay_s is not None and run_at is not None:
        raise ValueError("pass delay_s or run_at, not both")
    if run_at is not None:
        if not isinstance(run_at, datetime):
            raise ValueError(f"run_at must be an aware datetime, got {run_at!r}")
        if run_at.tzinfo is None:
            raise ValueError(f"run_at must be an aware datetime, got naive {run_at!r}")
        return run_at
    if delay_s is not None:
        return now + timedelta(seconds=non_negative_number("delay_s", delay_s))
    return now


def resolve_expires_at(
    now: datetime, expires_s: float | None, expires_at: datetime | None
) -> datetime | None:
    """When a job not started by then is never run (None: it waits for ever)."""
    if expires_s is not None and expires_at is not None:
        raise ValueError("pass expires_s or expires_at, not both")
    if expires_at is not None:
        if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
            raise ValueError(f"expires_at must be an aware datetime, got {expires_at!r}")
        return expires_at
    if expires_s is not None:
        return now + timedelta(seconds=non_negative_number("expires_s", expires_s))
    return None


def _new_job(
    queue_name: str,
    payload: Any,
    *,
    meta: Mapping[str, Any] | None,
    attempts: int,
    available_at: datetime,
    priority: int,
    dedupe_key: str | None,
    now: datetime,
    expires_at: datetime | None = None,
) -> Any:
    from django_onestep.models import Job

    check_json(queue_name, "payload", payload)
    if meta is not None and not isinstance(meta, Mapping):
        raise ValueError(f"DatabaseQueue({queue_name!r}): meta must be a dict, got {type(meta).__name__}")
    meta_dict = dict(meta or {})
    check_json(queue_name, "meta", meta_dict)
    int_between("priority", priority, *_PRIORITY_RANGE)
    if dedupe_key is not None and (not isinstance(dedupe_key, str) or not 0 < len(dedupe_key) <= 200):
        shown = dedupe_key if not isinstance(dedupe_key, str) else f"{len(dedupe_key)} characters"
        raise ValueError(f"dedupe_key must be a string of 1 to 200 characters, got {shown!r}")
    return Job(
        queue=queue_name,
        payload=payload,
        meta=meta_dict,
        attempts=max(int(attempts), 0),
        available_at=available_at,
        priority=priority,
        dedupe_key=dedupe_key,
        concurrency_key=key_for(queue_name, payload),
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
    )


def insert_job(
    queue_name: str,
    using: str,
    payload: Any,
    *,
    meta: Mapping[str, Any] | None = None,
    attempts: int = 0,
    delay_s: float | None = None,
    run_at: datetime | None = None,
    priority: int = 0,
    dedupe_key: str | None = None,
    expires_s: float | None = None,
    expires_at: datetime | None = None,
) -> int:
    """Insert one job in the current transaction of ``using``; return its id.

    With ``dedupe_key``, a job with the same key that is still queued or running wins:
    its id is returned and nothing is written.
    """
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from django_onestep.models import Job

    now = timezone.now()
    job = _new_job(
        queue_name,
        payload,
        meta=meta,
        attempts=attempts,
        available_at=resolve_available_at(now, delay_s, run_at),
        priority=priority,
        dedupe_key=dedupe_key,
        now=now,
        expires_at=resolve_expires_at(now, expires_s, expires_at),
    )
    if dedupe_key is None:
        job.save(using=using, force_insert=True)
    else:
        for _ in range(3):
            try:
                with transaction.atomic(using=using):
                    job.save(using=using, force_insert=True)
                break
            except IntegrityError:
                existing = (
                    Job.objects.using(using)
                    .filter(queue=queue_name, dedupe_key=dedupe_key)
                    .values_list("id", flat=True)
                    .first()
                )
                if existing is not None:
                    return int(existing)
                job.pk = None  # the holder settled in between: try again
        else:  # pragma: no cover - three races in a row
            raise IntegrityError(f"could not insert job with dedupe_key {dedupe_key!r}")
    _notify_other_processes(queue_name, using)
    transaction.on_commit(lambda: notify_enqueued(queue_name, using), using=using)
    return int(job.pk)


def insert_jobs(
    queue_name: str,
    using: str,
    payloads: Iterable[Any],
    *,
    delay_s: float | None = None,
    run_at: datetime | None = None,
    priority: int = 0,
) -> list[int]:
    """Bulk insert (batches of 500) in the current transaction; return the ids."""
    from django.db import transaction
    from django.utils import timezone

    from django_onestep.models import Job

    now = timezone.now()
    available_at = resolve_available_at(now, delay_s, run_at)
    ids: list[int] = []
    batch: list[Any] = []

    def flush() -> None:
        created = Job.objects.using(using).bulk_create(batch)
        ids.extend(int(job.pk) for job in created if job.pk is not None)
        batch.clear()

    with transaction.atomic(using=using):
        for payload in payloads:
            batch.append(
                _new_job(
                    queue_name,
                    payload,
                    meta=None,
                    attempts=0,
                    available_at=available_at,
                    priority=priority,
                    dedupe_key=None,
                    now=now,
                )
            )
            if len(batch) >= _BULK_BATCH:
                flush()
        if batch:
            flush()
        if ids:
            _notify_other_processes(queue_name, using)
    transaction.on_commit(lambda: notify_enqueued(queue_name, using), using=using)
    return ids
