"""One entry of a partitioned stream being worked on; settling it frees its key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django_onestep.core.base import Delivery

if TYPE_CHECKING:
    from django_onestep.connectors.redis.partition_state import BufferedEntry, PartitionState
    from django_onestep.connectors.redis.partitioned import PartitionedStream

__all__ = ["PartitionDelivery"]


class PartitionDelivery(Delivery):
    """An entry handed out by ``PartitionedStream.fetch``.

    ack and fail ack it (fenced on the partition's lease); retry keeps it at its place
    in the partition, so the key's later entries wait for it.
    """

    def __init__(self, stream: PartitionedStream, state: PartitionState, entry: BufferedEntry) -> None:
        super().__init__(entry.envelope)
        self.poison_reason = entry.poison_reason
        self.partition = state.partition
        self.entry_id = entry.entry_id
        self._stream = stream
        self._state = state
        self._entry = entry

    async def ack(self) -> None:
        if self.mark_settled():
            await self._stream.settle_done(self._state, self._entry)

    async def fail(self, exc: Exception | None = None) -> None:
        # terminal: the runner already stored the dead letter (exception policy "skip")
        if self.mark_settled():
            await self._stream.settle_done(self._state, self._entry)

    async def retry(self, *, delay_s: float | None = None) -> None:
        if self.mark_settled():
            self._stream.settle_retry(self._state, self._entry, delay_s or 0.0, count_attempt=True)

    async def release_unstarted(self) -> None:
        if self.mark_settled():
            self._stream.settle_retry(self._state, self._entry, 0.0, count_attempt=False)

    async def hold_after_failure(self, exc: Exception) -> str | None:
        if self.is_settled:
            return None
        held = await self._stream.apply_exception_policy(self._state, self._entry, exc)
        if held is not None:
            self.is_settled = True
        return held
