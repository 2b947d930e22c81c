"""Publishing one message with publisher confirms (sync callers, the outbox).

The message carries our id as its AMQP ``message_id``, so a consumer sees the same id
in the property and in ``meta``. ``priority`` is the AMQP priority (honoured by a
queue declared with ``x-max-priority``); ``delay_s`` goes through the same TTL'd
``<name>.retry.<ms>`` queue as delayed retries. AMQP has no deduplication or group
ids: those options are refused by name.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.broker_send import MESSAGE_ID_KEY, PublishOptions, SyncSend
from django_onestep.connectors.codec import encode_envelope
from django_onestep.connectors.rabbitmq.classify import redact_url
from django_onestep.connectors.rabbitmq.delivery import ATTEMPTS_HEADER, delay_bucket_ms
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperation

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django_onestep.connectors.rabbitmq.connector import RabbitMQConnector
    from django_onestep.connectors.rabbitmq.session import AmqpSession
    from django_onestep.connectors.rabbitmq.topology import QueueTopology

__all__ = ["AmqpPublish"]


class AmqpPublish:
    """Mixed into RabbitMQQueue (the ``SyncSend`` members of a RabbitMQ queue)."""

    name: str
    connector: RabbitMQConnector
    topology: QueueTopology
    mandatory: bool
    _session: AmqpSession | None
    _session_loop: Any

    if TYPE_CHECKING:  # provided by the queue class; a stub here would shadow it

        @property
        def session(self) -> AmqpSession:
            raise NotImplementedError

        def _properties(
            self, *, headers: dict[str, Any], message_id: str | None = None, priority: int | None = None
        ) -> Any:
            raise NotImplementedError

        async def send_many(self, envelopes: Iterable[Envelope]) -> None: ...

        async def retry_route(self, delay_ms: int) -> str:
            raise NotImplementedError

        async def publish_raw(
            self, exchange: str, routing_key: str, body: bytes, properties: Any, op: ConnectorOperation
        ) -> None:
            raise NotImplementedError

    @property
    def publish_target(self) -> str:
        return f"rabbitmq:{redact_url(self.connector.url)}:{self.topology.exchange or ''}:{self.name}"

    def check_publish_options(self, options: PublishOptions) -> None:
        options.refuse(f"rabbitmq queue {self.name!r}", "RabbitMQ", ("dedupe_key", "group_id"))

    def publisher_twin(self) -> AmqpPublish:
        twin = copy.copy(self)
        twin._session = None  # its own connection, on the loop that first uses it
        twin._session_loop = None
        return twin

    async def publish_confirmed_many(self, envelopes: list[Envelope], options: PublishOptions) -> None:
        if options.delay_s or options.priority is not None:
            await SyncSend.publish_confirmed_many(self, envelopes, options)  # type: ignore[arg-type]
        else:
            await self.send_many(envelopes)  # publishes all, then waits for every confirm

    async def publish_confirmed(self, envelope: Envelope, options: PublishOptions) -> None:
        properties = self._properties(
            headers={ATTEMPTS_HEADER: envelope.attempts},
            message_id=envelope.meta.get(MESSAGE_ID_KEY),
            priority=options.priority,
        )
        body = encode_envelope(envelope)
        if options.delay_s:
            route = await self.retry_route(delay_bucket_ms(options.delay_s))
            await self.publish_raw("", route, body, properties, ConnectorOperation.SEND)
            return
        await self.session.publish(
            self.topology.exchange or "",
            self.topology.routing_key,
            body,
            properties,
            ConnectorOperation.SEND,
            mandatory=self.mandatory,
        )
