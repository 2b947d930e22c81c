"""Publishing one message with the server's reply as the confirm (sync callers, the outbox).

``delay_s`` puts the message in the stream's delayed set, which the stream's readers
move in when due (as they do with delayed retries). Redis streams have no priority,
deduplication or group ids: those options are refused by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_onestep.connectors.broker_send import MESSAGE_ID_KEY, PublishOptions, SyncSend
from django_onestep.connectors.codec import encode_envelope
from django_onestep.connectors.redis.classify import redact_url
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperation

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from django_onestep.connectors.redis.connector import RedisConnector
    from django_onestep.connectors.redis.stream_options import StreamOptions

__all__ = ["StreamPublish"]

# KEYS: delayed zset. ARGV: delay ms, member. Scored on the server's clock, as retries are.
_ADD_DELAYED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
"""


class StreamPublish:
    """Mixed into RedisStream (the ``SyncSend`` members of a Redis stream)."""

    name: str
    connector: RedisConnector
    options: StreamOptions
    delayed_key: str
    _group_ready: bool

    if TYPE_CHECKING:  # provided by the queue class; a stub here would shadow it

        async def ensure_group(self) -> None:
            raise NotImplementedError

        async def send_many(self, envelopes: Iterable[Envelope]) -> list[str]: ...

        async def _xadd_pipelined(self, payloads: list[bytes]) -> list[str]:
            raise NotImplementedError

        async def _settle_call(
            self, call: Callable[[Any], Awaitable[Any]], operation: ConnectorOperation
        ) -> Any:
            raise NotImplementedError

    @property
    def publish_target(self) -> str:
        return f"redis:{redact_url(self.connector.url)}:{self.name}"

    def check_publish_options(self, options: PublishOptions) -> None:
        options.refuse(f"redis stream {self.name!r}", "Redis", ("priority", "dedupe_key", "group_id"))

    def publisher_twin(self) -> StreamPublish:
        own = type(self.connector)(self.connector.url, self.connector.options)
        return type(self)(own, self.options)  # type: ignore[call-arg]  # RedisStream's

    async def publish_confirmed_many(self, envelopes: list[Envelope], options: PublishOptions) -> None:
        if options.delay_s:
            await SyncSend.publish_confirmed_many(self, envelopes, options)  # type: ignore[arg-type]
        else:
            await self.send_many(envelopes)  # pipelined bulk adds; returns once Redis replied

    async def publish_confirmed(self, envelope: Envelope, options: PublishOptions) -> None:
        if not options.delay_s:
            await self._xadd_pipelined([encode_envelope(envelope)])  # returns once XADD replied
            return
        member = f"{envelope.meta.get(MESSAGE_ID_KEY, '')}|".encode() + encode_envelope(envelope)
        delay_ms = max(1, round(options.delay_s * 1000))

        async def add(client: Any) -> Any:
            if not self._group_ready:
                await self.ensure_group()
            return await client.eval(_ADD_DELAYED, 1, self.delayed_key, delay_ms, member)

        await self._settle_call(add, ConnectorOperation.SEND)
