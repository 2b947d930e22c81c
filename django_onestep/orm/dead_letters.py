"""``DatabaseDeadLetters``: terminal failures as ``DeadLetter`` rows (Sink and Source).

As a Sink it stores onestep's dead-letter envelope (body ``{"payload", "failure"}``,
meta ``{app, task, source, original_meta, original_attempts}``) as one row. As a
Source (scoped to one task) it hands those rows back so onestep's
``app.replay_task_dead_letters`` / ``discard_task_dead_letters`` work unchanged: a
fetch claims pending rows, ``ack`` marks them resolved (replayed or discarded),
``retry`` puts them back to pending. A claim left by a crashed replay returns to
pending after ``claim_timeout_s``.

For a ``DatabaseQueue`` task the job's status change and its dead letter are written
in one transaction (``DatabaseDelivery.fail_to_dead_letter``); other sources call
``send`` and then ``fail``, as onestep does.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django_onestep.conf import get_settings
from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperation
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread

__all__ = ["DatabaseDeadLetters", "DeadLetterDelivery"]


def _text(value: Any, limit: int | None = None) -> str:
    text = "" if value is None else str(value)
    return text[:limit] if limit else text


class DatabaseDeadLetters(Source, Sink):
    """Dead letters in the ``DeadLetter`` table, optionally scoped to one app/task."""

    batch_size = 100
    poll_interval_s = 1.0

    def __init__(
        self,
        name: str | None = None,
        *,
        task: str | None = None,
        app_name: str | None = None,
        using: str | None = None,
        claim_timeout_s: float = 300.0,
    ) -> None:
        Source.__init__(self, name or (f"dead_letters:{task}" if task else "dead_letters"))
        self.task = task
        self.app_name = app_name
        self.using = using or get_settings().DATABASE
        self.claim_timeout_s = claim_timeout_s
        self._thread: DBThread | None = None

    def __repr__(self) -> str:
        return f"DatabaseDeadLetters(task={self.task!r}, app_name={self.app_name!r}, using={self.using!r})"

    def _db(self) -> DBThread:
        if self._thread is None:
            self._thread = acquire_thread(self.using, "write")
        return self._thread

    async def close(self) -> None:
        if self._thread is not None:
            import asyncio

            thread, self._thread = self._thread, None
            await asyncio.to_thread(release_thread, thread)

    # ----- sink -------------------------------------------------------------------

    def build_row(
        self, envelope: Envelope, *, job_id: int | None = None, first_failed_at: datetime | None = None
    ) -> Any:
        """An unsaved ``DeadLetter`` for onestep's dead-letter envelope (or any envelope)."""
        from django.utils import timezone

        from django_onestep.models import DeadLetter

        body = envelope.body
        meta = envelope.meta or {}
        if isinstance(body, dict) and "failure" in body:
            payload = body.get("payload")
            failure = body.get("failure") or {}
        else:  # something else was sent here: keep it whole
            payload, failure = body, {}
        now = timezone.now()
        original_meta = meta.get("original_meta", {})
        return DeadLetter(
            app=_text(meta.get("app") or self.app_name or "", 100),
            task=_text(meta.get("task") or self.task or "", 200),
            source=_text(meta.get("source") or "", 200),
            payload=payload,
            original_meta=original_meta if isinstance(original_meta, dict) else {"value": original_meta},
            attempts=int(meta.get("original_attempts", envelope.attempts) or 0),
            failure_kind=_text(failure.get("kind"), 20),
            exception_type=_text(failure.get("exception_type"), 200),
            message=_text(failure.get("message")),
            traceback=_text(failure.get("traceback")),
            job_id=job_id,
            first_failed_at=first_failed_at or now,
            last_failed_at=now,
        )

    def store_sync(self, envelope: Envelope) -> int:
        """Write one dead letter in the caller's thread/transaction; returns its id."""
        row = self.build_row(envelope)
        row.save(using=self.using, force_insert=True)
        return int(row.pk)

    async def send(self, envelope: Envelope) -> None:
        await self._db().run(
            self.store_sync, envelope, operation=ConnectorOperation.SEND, source_name=self.name
        )

    # ----- source (replay / discard) -------------------------------------------------

    def _claim_sync(self, limit: int) -> list[tuple[int, Envelope]]:
        from django.db import transaction
        from django.utils import timezone

        from django_onestep.models import DeadLetter

        now = timezone.now()
        rows = DeadLetter.objects.using(self.using)
        if self.task is not None:
            rows = rows.filter(task=self.task)
        if self.app_name is not None:
            rows = rows.filter(app=self.app_name)
        token = uuid.uuid4().hex
        stale = now - timedelta(seconds=self.claim_timeout_s)
        rows.filter(status=DeadLetter.Status.CLAIMED, claimed_at__lt=stale).update(
            status=DeadLetter.Status.PENDING, claim_token=None
        )
        with transaction.atomic(using=self.using):
            ids = list(
                rows.filter(status=DeadLetter.Status.PENDING)
                .order_by("id")
                .select_for_update(skip_locked=_skip_locked(self.using))
                .values_list("id", flat=True)[:limit]
            )
            if not ids:
                return []
            DeadLetter.objects.using(self.using).filter(id__in=ids, status=DeadLetter.Status.PENDING).update(
                status=DeadLetter.Status.CLAIMED, claim_token=token, claimed_at=now
            )
        claimed = DeadLetter.objects.using(self.using).filter(id__in=ids, claim_token=token).order_by("id")
        return [(row.id, self.envelope_for(row)) for row in claimed]

    @staticmethod
    def envelope_for(row: Any) -> Envelope:
        """Rebuild onestep's dead-letter envelope from a row (what replay consumes)."""
        return Envelope(
            body={
                "payload": row.payload,
                "failure": {
                    "kind": row.failure_kind,
                    "exception_type": row.exception_type,
                    "message": row.message,
                    "traceback": row.traceback,
                },
            },
            meta={
                "app": row.app,
                "task": row.task,
                "source": row.source,
                "original_meta": row.original_meta,
                "original_attempts": row.attempts,
                "dead_letter_id": row.id,
            },
            attempts=0,
        )

    async def fetch(self, limit: int) -> list[Delivery]:
        claimed = await self._db().run(
            self._claim_sync, max(1, int(limit)), operation=ConnectorOperation.FETCH, source_name=self.name
        )
        return [DeadLetterDelivery(self, row_id, envelope) for row_id, envelope in claimed]

    def _settle_sync(self, row_id: int, status: str) -> bool:
        from django.utils import timezone

        from django_onestep.models import DeadLetter

        updates: dict[str, Any] = {"status": status, "claim_token": None}
        if status == DeadLetter.Status.RESOLVED:
            updates["resolved_at"] = timezone.now()
        count = (
            DeadLetter.objects.using(self.using)
            .filter(id=row_id, status=DeadLetter.Status.CLAIMED)
            .update(**updates)
        )
        return bool(count)

    async def _settle(self, row_id: int, status: str) -> None:
        await self._db().run(
            self._settle_sync, row_id, status, operation=ConnectorOperation.ACK, source_name=self.name
        )


def _skip_locked(using: str) -> bool:
    from django.db import connections

    return bool(connections[using].features.has_select_for_update_skip_locked)


class DeadLetterDelivery(Delivery):
    """A claimed dead letter: ``ack`` resolves it, ``retry``/``fail`` put it back."""

    def __init__(self, source: DatabaseDeadLetters, row_id: int, envelope: Envelope) -> None:
        super().__init__(envelope)
        self.source = source
        self.row_id = row_id

    async def ack(self) -> None:
        await self.source._settle(self.row_id, "resolved")

    async def retry(self, *, delay_s: float | None = None) -> None:
        await self.source._settle(self.row_id, "pending")

    async def fail(self, exc: Exception | None = None) -> None:
        await self.source._settle(self.row_id, "pending")

    async def release_unstarted(self) -> None:
        await self.source._settle(self.row_id, "pending")
