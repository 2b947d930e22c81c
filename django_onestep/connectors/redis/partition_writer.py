"""The Sink side of a partitioned stream: each event to its key's partition, pipelined."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django_onestep.connectors.codec import encode_envelope
from django_onestep.connectors.redis.delivery import Batcher
from django_onestep.connectors.redis.partition_leases import PartitionKeys
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperation, ConnectorOperationError

__all__ = ["PartitionWriter"]

_SEND_CHUNK = 5000  # events per pipeline round trip in send_many


class PartitionWriter:
    """Mixed into PartitionedStream, which provides what is declared here."""

    keys: PartitionKeys
    _sends: Batcher[tuple[int, bytes]]

    def partition_of(self, payload: Any) -> int:
        raise NotImplementedError

    async def _ready(self) -> Any:
        raise NotImplementedError

    def _error(self, exc: BaseException, operation: ConnectorOperation) -> ConnectorOperationError | None:
        raise NotImplementedError

    async def send(self, envelope: Envelope) -> None:
        # concurrent sends (handlers emitting) share one pipeline
        partition = self.partition_of(envelope.body)
        await self._sends.add((partition, encode_envelope(envelope)))

    async def send_many(self, envelopes: Iterable[Envelope]) -> None:
        """Add many envelopes, pipelined (one round trip per 5,000)."""
        batch: list[tuple[int, bytes]] = []
        for envelope in envelopes:
            batch.append((self.partition_of(envelope.body), encode_envelope(envelope)))
            if len(batch) >= _SEND_CHUNK:
                await self._xadd(batch)
                batch = []
        if batch:
            await self._xadd(batch)

    async def publish_many(self, bodies: Iterable[Any]) -> None:
        """``send_many`` for plain bodies (attempts 0)."""
        await self.send_many(Envelope(body=body) for body in bodies)

    async def _xadd(self, items: list[tuple[int, bytes]]) -> None:
        try:
            client = await self._ready()
            async with client.pipeline(transaction=False) as pipe:
                for partition, payload in items:
                    pipe.xadd(self.keys.stream(partition), {"body": payload})
                await pipe.execute()
        except Exception as exc:
            error = self._error(exc, ConnectorOperation.SEND)
            if error is None:
                raise
            raise error from exc
