"""One Redis stream entry being worked on, and the batcher that acks entries together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from django_onestep.core.base import Delivery, Sink
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperation

if TYPE_CHECKING:
    from django_onestep.connectors.redis.stream import RedisStream

__all__ = ["Batcher", "RedisStreamDelivery"]

T = TypeVar("T")


class Batcher(Generic[T]):
    """Coalesce concurrent commands into one (group commit): XACKs, emitted entries.

    Each ``add`` waits until its item is done on the server, so nothing is reported done
    early. Items arriving while a flush is on the wire join the next flush: under load
    one command carries many items; an idle worker still sends at once (no timer).
    """

    def __init__(self, flush: Callable[[list[T]], Awaitable[object]]) -> None:
        self._flush = flush
        self._ids: list[T] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._runner: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        loop = asyncio.get_running_loop()
        if self._runner is not None and self._runner.get_loop() is not loop:
            # the previous loop ended mid-flush; its waiters are gone with it
            self._ids, self._waiters, self._runner = [], [], None
        waiter: asyncio.Future[None] = loop.create_future()
        self._ids.append(item)
        self._waiters.append(waiter)
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())
        await waiter

    async def _run(self) -> None:
        try:
            while self._ids:
                ids, waiters = self._ids, self._waiters
                self._ids, self._waiters = [], []
                try:
                    await self._flush(ids)
                except BaseException as exc:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                else:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
        finally:
            self._runner = None

    async def drain(self) -> None:
        """Wait for items already added (used before closing the connection)."""
        runner = self._runner
        if runner is not None and runner.get_loop() is asyncio.get_running_loop():
            await asyncio.gather(runner, return_exceptions=True)


class RedisStreamDelivery(Delivery):
    """An entry read through the consumer group.

    ``attempts`` on the envelope = attempts carried in the entry + earlier deliveries of
    this very entry (the group's delivery count - 1), so a worker killed mid-task counts.
    """

    def __init__(self, stream: RedisStream, entry_id: str, envelope: Envelope, delivery_count: int) -> None:
        super().__init__(envelope)
        self.entry_id = entry_id
        self.delivery_count = delivery_count
        self._stream = stream

    async def ack(self) -> None:
        if self.mark_settled():
            await self._stream.settle_ack(self.entry_id, ConnectorOperation.ACK)

    async def fail(self, exc: Exception | None = None) -> None:
        # Terminal: the runner already stored the dead letter (if any); the entry is done.
        if self.mark_settled():
            await self._stream.settle_ack(self.entry_id, ConnectorOperation.FAIL)

    async def fail_to_dead_letter(self, sink: Sink, envelope: Envelope) -> bool:
        # A dead-letter stream on the same Redis: ack + dead letter in one atomic step.
        if self.is_settled:
            return False
        if not await self._stream.settle_to_dead_letter(self.entry_id, sink, envelope):
            return False
        self.is_settled = True
        return True

    async def retry(self, *, delay_s: float | None = None) -> None:
        if not self.mark_settled():
            return
        if self.poison_reason is not None:
            # Our envelope only describes the bad entry; re-adding it would turn garbage
            # into a runnable message. Leave the entry pending: it is claimed again after
            # claim_idle_s (e.g. when the dead-letter sink was down) and dead-lettered then.
            self._stream.abandon(self.entry_id)
            return
        again = Envelope(self.envelope.body, dict(self.envelope.meta), self.envelope.attempts + 1)
        await self._stream.settle_requeue(self.entry_id, again, delay_s or 0.0, ConnectorOperation.RETRY)

    async def release_unstarted(self) -> None:
        # Never started: hand it back at once without counting an attempt.
        if not self.mark_settled():
            return
        if self.poison_reason is not None:
            self._stream.abandon(self.entry_id)
            return
        await self._stream.settle_requeue(self.entry_id, self.envelope, 0.0, ConnectorOperation.RETRY)
