"""The Sink side of a Redis stream: single, concurrent and bulk adds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django_onestep.connectors.codec import encode_envelope, plain_envelopes
from django_onestep.connectors.redis.delivery import Batcher
from django_onestep.connectors.redis.entries import text
from django_onestep.connectors.redis.stream_options import StreamOptions
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperation, ConnectorOperationError

__all__ = ["StreamWriter"]

_SEND_CHUNK = 5000  # entries per pipeline round trip in send_many
_ADD_MANY_CHUNK = 500  # entries per bulk-add script call (keeps each call ~ms short)


class StreamWriter:
    """Mixed into RedisStream, which provides the connection plumbing declared here."""

    name: str
    options: StreamOptions
    _scripts: dict[str, Any]
    _group_ready: bool
    _sends: Batcher[bytes]

    async def _ready(self) -> Any:
        raise NotImplementedError

    async def ensure_group(self) -> None:
        raise NotImplementedError

    def _error(self, exc: BaseException, operation: ConnectorOperation) -> ConnectorOperationError | None:
        raise NotImplementedError

    def _recovered(self) -> None:
        raise NotImplementedError

    async def asend(self, envelope: Envelope) -> None:
        # Concurrent sends (handlers emitting results) share one bulk-add command.
        await self._sends.add(encode_envelope(envelope))

    async def send_many(self, envelopes: Iterable[Envelope]) -> list[str]:
        """Add many envelopes, pipelined (one round trip per 5,000); returns the entry ids."""
        ids: list[str] = []
        batch: list[bytes] = []
        for envelope in envelopes:
            batch.append(encode_envelope(envelope))
            if len(batch) >= _SEND_CHUNK:
                ids.extend(await self._xadd_pipelined(batch))
                batch = []
        if batch:
            ids.extend(await self._xadd_pipelined(batch))
        return ids

    async def publish_many(
        self, bodies: Iterable[Any], *, meta: Mapping[str, Any] | None = None
    ) -> list[str]:
        """``send_many`` for plain bodies (attempts 0), like ``Sink.publish`` for one."""
        return await self.send_many(plain_envelopes(bodies, meta))

    async def _xadd_pipelined(self, payloads: list[bytes]) -> list[str]:
        # Bulk-add scripts of _ADD_MANY_CHUNK entries each; several per round trip.
        head = [self.options.maxlen or 0, int(self.options.approximate_trim)]
        try:
            client = await self._ready()
            if not self._group_ready:
                # Create our group before our first add: with start_id "$" a group made
                # later (first fetch) would skip what we add now, e.g. jobs enqueued
                # before any worker ran, or dead letters written before a replay.
                await self.ensure_group()
            add_many = self._scripts["ADD_MANY"]
            if len(payloads) <= _ADD_MANY_CHUNK:  # no pipeline: it would check the script first
                results = [await add_many(keys=[self.name], args=[*head, *payloads])]
            else:
                async with client.pipeline(transaction=False) as pipe:
                    for start in range(0, len(payloads), _ADD_MANY_CHUNK):
                        chunk = payloads[start : start + _ADD_MANY_CHUNK]
                        await add_many(keys=[self.name], args=[*head, *chunk], client=pipe)
                    results = await pipe.execute()
        except Exception as exc:
            error = self._error(exc, ConnectorOperation.SEND)
            if error is None:
                raise
            raise error from exc
        self._recovered()
        return [text(entry_id) for ids in results for entry_id in ids]
