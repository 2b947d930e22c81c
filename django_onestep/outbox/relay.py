"""The outbox relay: claim due rows, publish them with the broker's confirms, delete them.

A pass claims up to ``batch_size`` due rows under a lease (``SELECT ... FOR UPDATE SKIP
LOCKED`` where the database has it; the claiming ``UPDATE`` re-checks the lease, so two
relays never both claim a row on any database). It publishes them concurrently, each
through the queue's ``publish_confirmed`` (RabbitMQ publisher confirms, the Redis XADD
reply, the SQS SendMessage response), and deletes only the rows the broker accepted.

A relay that dies after publishing and before deleting leaves rows whose lease runs
out: the next pass publishes them again, with the same message id. A refused publish
is kept, its error recorded, and tried again after a backoff.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from django_onestep.connectors.broker_send import PublishOptions, known_queue
from django_onestep.connectors.codec import decode_message
from django_onestep.connectors.publisher_thread import publish_batch
from django_onestep.core.validation import positive_int, positive_number

__all__ = ["OutboxRelay", "RelayPass"]

logger = logging.getLogger("django_onestep.outbox.relay")

_BACKOFF_CAP_S = 60.0
_ERROR_CHARS = 500


@dataclass(frozen=True)
class RelayPass:
    """What one pass did: rows claimed, published (and deleted), and kept for later."""

    claimed: int = 0
    published: int = 0
    failed: int = 0


class OutboxRelay:
    def __init__(self, *, using: str, batch_size: int = 200, lease_s: float = 30.0) -> None:
        self.using = using
        self.batch_size = positive_int("batch_size", batch_size)
        self.lease_s = positive_number("lease_s", lease_s)

    def claim(self) -> tuple[str, list[Any]]:
        """Claim up to ``batch_size`` due rows under a new token; returns it and the rows."""
        from django_onestep.models import OutboxMessage

        token = uuid.uuid4().hex
        now = timezone.now()
        rows = OutboxMessage.objects.using(self.using)
        due = rows.filter(lease_until__lte=now).order_by("id")
        if not due.exists():  # the idle case, without a write transaction (SQLite's is a lock)
            return token, []
        with transaction.atomic(using=self.using):
            ids = list(
                due.select_for_update(skip_locked=True).values_list("id", flat=True)[: self.batch_size]
            )
            if not ids:
                return token, []
            # lease_until is checked again: without SKIP LOCKED (SQLite) another relay
            # may have claimed some of these rows since our SELECT.
            rows.filter(id__in=ids, lease_until__lte=now).update(
                lease_until=now + timedelta(seconds=self.lease_s),
                claim_token=token,
                attempts=F("attempts") + 1,
            )
        return token, list(rows.filter(claim_token=token).order_by("id"))

    def run_once(self) -> RelayPass:
        """One pass: claim, publish, settle. Returns what it did."""
        from django_onestep.models import OutboxMessage

        token, claimed = self.claim()
        if not claimed:
            return RelayPass()
        items, sendable, errors = [], [], {}
        for row in claimed:
            queue = known_queue(row.target)
            if queue is None:
                errors[row.id] = f"no queue {row.target} in this process: import the module that declares it"
                continue
            items.append((queue, decode_message(row.envelope), PublishOptions.from_dict(row.options)))
            sendable.append(row)
        # within the lease, so no other relay takes these rows while we still wait
        results = publish_batch(items, timeout_s=self.lease_s * 0.8)
        for row, error in zip(sendable, results, strict=True):
            if error is not None:
                errors[row.id] = f"{type(error).__name__}: {error}"
        published = [row.id for row in claimed if row.id not in errors]
        rows = OutboxMessage.objects.using(self.using)
        if published:
            rows.filter(id__in=published, claim_token=token).delete()
        now = timezone.now()
        for row in claimed:
            if row.id in errors:
                backoff_s = min(_BACKOFF_CAP_S, 0.5 * 2 ** min(row.attempts, 10))
                rows.filter(id=row.id, claim_token=token).update(
                    lease_until=now + timedelta(seconds=backoff_s),
                    claim_token=None,
                    last_error=errors[row.id][:_ERROR_CHARS],
                )
                logger.warning("outbox: %s %s not published: %s", row.target, row.message_id, errors[row.id])
        return RelayPass(claimed=len(claimed), published=len(published), failed=len(errors))

    def drain(self, max_passes: int = 1_000_000) -> int:
        """Passes until no due row is left (or one pass publishes nothing); rows published."""
        total = 0
        for _ in range(max_passes):
            result = self.run_once()
            total += result.published
            if result.claimed < self.batch_size or result.published == 0:
                break
        return total
