"""A RabbitMQ message handed to the runner, and how each outcome settles it."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.codec import decode_body
from django_onestep.connectors.rabbitmq.session import Incoming
from django_onestep.core.base import Delivery
from django_onestep.core.errors import ConnectorOperation, ConnectorOperationError

if TYPE_CHECKING:
    from django_onestep.connectors.rabbitmq.connector import RabbitMQQueue

__all__ = ["ATTEMPTS_HEADER", "RabbitMQDelivery", "delay_bucket_ms", "header_attempts"]

logger = logging.getLogger("django_onestep.connectors.rabbitmq.connector")

#: Previous attempts of a message. It wins over the body's "attempts" because a retry
#: re-publishes the original bytes unchanged (foreign bodies are never rewritten).
ATTEMPTS_HEADER = "x-onestep-attempts"


def header_attempts(properties: Any) -> int | None:
    headers = getattr(properties, "headers", None) or {}
    value: Any = headers.get(ATTEMPTS_HEADER)
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    try:
        attempts = int(value)
    except (TypeError, ValueError):
        return None
    return attempts if attempts >= 0 else None


def delay_bucket_ms(delay_s: float) -> int:
    """Round a delay *up* to two significant digits of milliseconds (2,137 ms -> 2,200 ms).

    Each bucket is one retry queue with a fixed TTL (so expiry order is queue order);
    the rounding keeps the number of queues small while delaying at most ~10% extra.
    """
    ms = max(1, math.ceil(delay_s * 1000))
    if ms < 100:
        return ms
    step = 10 ** (len(str(ms)) - 2)
    return int(math.ceil(ms / step) * step)


class RabbitMQDelivery(Delivery):
    def __init__(self, queue: RabbitMQQueue, item: Incoming) -> None:
        envelope, poison_reason = decode_body(item.body)
        attempts = header_attempts(item.properties)
        if attempts is not None:
            envelope.attempts = attempts
        super().__init__(envelope)
        self.poison_reason = poison_reason
        self._queue = queue
        self._item = item

    @property
    def redelivered(self) -> bool:
        return bool(self._item.method.redelivered)

    def _settle(self, how: str) -> None:
        # Settle once: a second ack of the same tag is a channel error (406) that would
        # close the channel and requeue every other message in flight on it.
        if not self.mark_settled():
            return
        if not self._queue.session_settle(self._item, how):
            logger.info(
                "rabbitmq %s: %s skipped, its channel is gone (the broker redelivers it)",
                self._queue.name,
                how,
            )

    async def ack(self) -> None:
        self._settle("ack")

    async def release_unstarted(self) -> None:
        self._settle("requeue")

    async def fail(self, exc: Exception | None = None) -> None:
        # Reject without requeue: the queue's own dead-letter exchange gets it if it has
        # one; the task's dead_letter sink (if any) already received it from the runner.
        self._settle("reject")

    async def retry(self, *, delay_s: float | None = None) -> None:
        """Publish a copy with attempts + 1 (to a TTL'd retry queue when delayed), then ack.

        Never a nack-requeue: that would loop hot and could not count attempts.
        """
        queue, item = self._queue, self._item
        if self.is_settled:
            return
        if not queue.session_is_live(item.channel):
            logger.info(
                "rabbitmq %s: retry skipped, its channel is gone (the broker redelivers it)", queue.name
            )
            return
        properties = queue.copy_properties(item.properties, attempts=self.envelope.attempts + 1)
        routing_key, delay_ms = queue.name, None
        if delay_s is not None and delay_s > 0:
            delay_ms = delay_bucket_ms(delay_s)
            try:
                routing_key = await queue.retry_route(delay_ms)
            except ConnectorOperationError as exc:
                if exc.retryable:
                    self._settle("requeue")
                    return
                # e.g. no permission to declare "<queue>.retry.*": retry now rather than
                # loop on a requeue that cannot count attempts (MaxAttempts still ends it).
                logger.error(
                    "rabbitmq %s: cannot declare a retry queue, retrying without delay: %s", queue.name, exc
                )
        try:
            await queue.publish_raw("", routing_key, item.body, properties, ConnectorOperation.RETRY)
        except ConnectorOperationError as exc:
            # Not republished: give the original back so it runs again (at-least-once).
            if delay_ms is not None and routing_key != queue.name:
                # Maybe deleted since we declared it (the broker returned the copy).
                queue.forget_retry_route(delay_ms)
            log = logger.warning if exc.retryable else logger.error
            log("rabbitmq %s: retry publish failed, requeueing the original: %s", queue.name, exc)
            self._settle("requeue")
            return
        self._settle("ack")
