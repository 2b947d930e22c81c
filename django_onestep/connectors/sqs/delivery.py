"""An SQS message handed to the runner, and how each outcome settles it."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.codec import decode_body
from django_onestep.core.base import Delivery, Sink
from django_onestep.core.envelope import Envelope

if TYPE_CHECKING:
    from django_onestep.connectors.sqs.queue import SQSQueue

__all__ = ["MAX_VISIBILITY_S", "SQSDelivery", "receive_count"]

logger = logging.getLogger("django_onestep.connectors.sqs.connector")

MAX_VISIBILITY_S = 43_200  # SQS's ceiling for a visibility timeout (12 hours)


def receive_count(message: dict[str, Any]) -> int:
    try:
        return max(1, int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


class SQSDelivery(Delivery):
    def __init__(self, queue: SQSQueue, message: dict[str, Any]) -> None:
        envelope, poison_reason = decode_body(message.get("Body", ""))
        # Previous attempts = what the producer said (a replayed dead letter keeps its
        # count) + how often SQS handed this very message out before.
        envelope.attempts += receive_count(message) - 1
        sqs_meta = envelope.meta.get("sqs")
        sqs_meta = dict(sqs_meta) if isinstance(sqs_meta, dict) else {}
        sqs_meta["message_id"] = message.get("MessageId")
        sqs_meta["attributes"] = dict(message.get("Attributes", {}))
        envelope.meta["sqs"] = sqs_meta
        super().__init__(envelope)
        self.poison_reason = poison_reason
        self._queue = queue
        self.message_id: str = message.get("MessageId", "")
        self.receipt_handle: str = message["ReceiptHandle"]

    def _settle(self) -> bool:
        """Stop the heartbeat for this message; False if it was settled already."""
        if not self.mark_settled():
            return False
        self._queue.leases.untrack(self.message_id)
        return True

    async def ack(self) -> None:
        if self._settle():
            await self._queue.leases.stage_delete(self.receipt_handle)

    async def retry(self, *, delay_s: float | None = None) -> None:
        """Make the same message visible again after ``delay_s`` (its receive count grows)."""
        if self._settle():
            seconds = 0 if not delay_s or delay_s <= 0 else min(MAX_VISIBILITY_S, math.ceil(delay_s))
            await self._queue.change_visibility(self.receipt_handle, seconds)

    async def release_unstarted(self) -> None:
        if self._settle():
            await self._queue.change_visibility(self.receipt_handle, 0)

    async def fail(self, exc: Exception | None = None) -> None:
        """No dead-letter sink: ``on_fail`` decides (leave = the queue's redrive policy)."""
        if not self._settle():
            return
        if self._queue.on_fail == "delete":
            await self._queue.leases.stage_delete(self.receipt_handle)
        elif self._queue.on_fail == "release":
            await self._queue.change_visibility(self.receipt_handle, 0)

    async def fail_to_dead_letter(self, sink: Sink, envelope: Envelope) -> bool:
        """Store the dead letter, then delete the message so it never runs again.

        If the send raises, the message is left alone (it comes back after its
        visibility timeout): a dead letter is never lost for a delete.
        """
        await sink.send(envelope)
        if self._settle():
            await self._queue.leases.stage_delete(self.receipt_handle)
        return True
