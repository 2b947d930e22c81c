"""RabbitMQ queues as sources and sinks (pika, on the worker's event loop).

    rmq = RabbitMQConnector("amqp://guest:guest@localhost/")
    jobs = rmq.queue("jobs", prefetch=50)          # a plain durable queue

Durable queue, persistent messages, publisher confirms, manual acks. Publishes are
``mandatory``: a message no binding routes makes its send raise instead of vanishing
(``mandatory=False`` lets the broker drop it, as AMQP does by default). Attempts travel in
the ``x-onestep-attempts`` header; a delayed retry goes through a TTL'd queue
``<name>.retry.<ms>`` that dead-letters back into ``<name>`` (no hot requeue loop, no
special arguments on the main queue). Lost connections are re-opened with capped
backoff and consumption resumes. pika is imported only when a queue is used.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django_onestep.connectors.broker_send import MESSAGE_ID_KEY, SyncSend, remember_queue
from django_onestep.connectors.codec import encode_envelope, plain_envelopes
from django_onestep.connectors.rabbitmq.amqp_publish import AmqpPublish
from django_onestep.connectors.rabbitmq.classify import redact_url, secret_tokens
from django_onestep.connectors.rabbitmq.delivery import ATTEMPTS_HEADER, RabbitMQDelivery
from django_onestep.connectors.rabbitmq.session import AmqpSession, Incoming
from django_onestep.connectors.rabbitmq.topology import QueueTopology
from django_onestep.connectors.settings_checks import checked_options, checked_url
from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import (
    ConfigurationError,
    ConnectorOperation,
    ConnectorOperationError,
    MissingExtraError,
)
from django_onestep.core.validation import non_negative_int, positive_int, positive_number

__all__ = ["RabbitMQConnector", "RabbitMQDelivery", "RabbitMQQueue"]

logger = logging.getLogger("django_onestep.connectors.rabbitmq.connector")

# pika.ConnectionParameters attributes that ``options`` may set (checked without pika).
_CONNECTION_OPTIONS = frozenset({
    "blocked_connection_timeout", "channel_max", "client_properties", "connection_attempts",
    "credentials", "frame_max", "heartbeat", "locale", "retry_delay", "socket_timeout",
    "ssl_options", "stack_timeout", "tcp_options", "virtual_host",
})  # fmt: skip
_EXCHANGE_TYPES = frozenset({"direct", "fanout", "topic", "headers"})


def _require_pika() -> None:
    try:
        import pika  # noqa: F401
    except ImportError:
        raise MissingExtraError("pika", "rabbitmq") from None
    pika_logger = logging.getLogger("pika")
    if pika_logger.level == logging.NOTSET:
        # pika logs every connection step at INFO (some 30 lines per queue opened), which
        # drowns a worker's own INFO output; its warnings and errors still show. A level
        # the user set on the "pika" logger is kept.
        pika_logger.setLevel(logging.WARNING)


class RabbitMQConnector:
    """Connection settings shared by the queues it makes (each queue has its own connection)."""

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        self.url = checked_url("RabbitMQConnector", url, ("amqp://", "amqps://"))
        self.options = checked_options("RabbitMQConnector", options, _CONNECTION_OPTIONS)

    def __repr__(self) -> str:
        return f"RabbitMQConnector({redact_url(self.url)!r})"

    def queue(
        self,
        name: str,
        *,
        routing_key: str | None = None,
        exchange: str | None = None,
        exchange_type: str = "direct",
        bind: bool = True,
        bind_arguments: Mapping[str, Any] | None = None,
        durable: bool = True,
        auto_delete: bool = False,
        exclusive: bool = False,
        arguments: Mapping[str, Any] | None = None,
        exchange_durable: bool | None = None,
        exchange_auto_delete: bool = False,
        exchange_arguments: Mapping[str, Any] | None = None,
        prefetch: int = 100,
        batch_size: int = 100,
        poll_interval_s: float = 1.0,
        publisher_confirms: bool = True,
        persistent: bool = True,
        mandatory: bool = True,
        connect_timeout_s: float = 10.0,
        publish_timeout_s: float = 30.0,
    ) -> RabbitMQQueue:
        if not isinstance(name, str) or not name or len(name) > 200:
            raise ConfigurationError(
                f"RabbitMQ queue name must be a non-empty string of <= 200 chars, got {name!r}"
            )
        if exchange_type not in _EXCHANGE_TYPES:
            raise ConfigurationError(
                f"exchange_type must be one of {sorted(_EXCHANGE_TYPES)}, got {exchange_type!r}"
            )
        for key, text in (("routing_key", routing_key), ("exchange", exchange)):
            if text is not None and not isinstance(text, str):
                raise ConfigurationError(f"{key} must be a string or None, got {text!r}")
        for key, flag in (("bind", bind), ("durable", durable), ("auto_delete", auto_delete),
                          ("exclusive", exclusive), ("exchange_durable", exchange_durable),
                          ("exchange_auto_delete", exchange_auto_delete),
                          ("publisher_confirms", publisher_confirms), ("persistent", persistent),
                          ("mandatory", mandatory)):  # fmt: skip
            if flag is not None and not isinstance(flag, bool):
                raise ConfigurationError(f"{key} must be True or False, got {flag!r}")
        for key, mapping in (("arguments", arguments), ("bind_arguments", bind_arguments),
                             ("exchange_arguments", exchange_arguments)):  # fmt: skip
            if mapping is not None and not isinstance(mapping, Mapping):
                raise ConfigurationError(f"{key} must be a mapping, got {type(mapping).__name__}")
        non_negative_int("prefetch", prefetch)
        positive_int("batch_size", batch_size)
        for key, number in (("poll_interval_s", poll_interval_s), ("connect_timeout_s", connect_timeout_s),
                            ("publish_timeout_s", publish_timeout_s)):  # fmt: skip
            positive_number(key, number)
        topology = QueueTopology(
            name=name,
            routing_key=routing_key or name,
            exchange=exchange,
            exchange_type=exchange_type,
            bind=bind,
            bind_arguments=dict(bind_arguments or {}),
            durable=durable,
            auto_delete=auto_delete,
            exclusive=exclusive,
            arguments=dict(arguments or {}),
            exchange_durable=durable if exchange_durable is None else exchange_durable,
            exchange_auto_delete=exchange_auto_delete,
            exchange_arguments=dict(exchange_arguments or {}),
        )
        return RabbitMQQueue(
            self,
            topology,
            prefetch=prefetch,
            batch_size=batch_size,
            poll_interval_s=float(poll_interval_s),
            publisher_confirms=publisher_confirms,
            persistent=persistent,
            mandatory=mandatory,
            connect_timeout_s=float(connect_timeout_s),
            publish_timeout_s=float(publish_timeout_s),
        )


class RabbitMQQueue(AmqpPublish, SyncSend, Source, Sink):  # type: ignore[misc]  # send: see SyncSend
    """A queue you can consume (Source) and publish to (Sink)."""

    def __init__(
        self,
        connector: RabbitMQConnector,
        topology: QueueTopology,
        *,
        prefetch: int,
        batch_size: int,
        poll_interval_s: float,
        publisher_confirms: bool,
        persistent: bool,
        mandatory: bool,
        connect_timeout_s: float,
        publish_timeout_s: float,
    ) -> None:
        Source.__init__(self, topology.name)
        Sink.__init__(self, topology.name)
        self.connector = connector
        self.topology = topology
        self.prefetch = prefetch
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.publisher_confirms = publisher_confirms
        self.persistent = persistent
        self.mandatory = mandatory
        self.connect_timeout_s = connect_timeout_s
        self.publish_timeout_s = publish_timeout_s
        self._session: AmqpSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        remember_queue(self)

    def __repr__(self) -> str:
        return f"RabbitMQQueue({self.name!r}, connector={self.connector!r})"

    # The broker stops delivering at ``prefetch`` unacked messages, so a batch handler's
    # batch can never be larger (core/runtime/batching.py); 0 is no limit.
    max_unsettled_option = "prefetch"

    @property
    def max_unsettled(self) -> int | None:
        return self.prefetch or None

    @property
    def session(self) -> AmqpSession:
        """This event loop's connection (a queue reused under another loop gets a new one)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop:
            _require_pika()
            self._session = AmqpSession(
                url=self.connector.url,
                options=self.connector.options,
                topology=self.topology,
                prefetch=self.prefetch,
                publisher_confirms=self.publisher_confirms,
                connect_timeout_s=self.connect_timeout_s,
                publish_timeout_s=self.publish_timeout_s,
                tokens=secret_tokens(self.connector.url, self.connector.options),
            )
            self._session_loop = loop
        return self._session

    async def open(self) -> None:
        """Connect and declare now, so a wrong URL or password stops startup with a clear error.

        A broker that is merely down does not: fetch keeps reconnecting with backoff.
        """
        try:
            await self.session.connect()
        except ConnectorOperationError as exc:
            if not exc.retryable:
                raise
            logger.warning(
                "rabbitmq queue %s: broker not reachable at startup, will retry: %s", self.name, exc
            )
        self._set_open_state(True)

    async def fetch(self, limit: int) -> list[Delivery]:
        items = await self.session.get(max(1, min(limit, self.batch_size)), self.poll_interval_s)
        return [RabbitMQDelivery(self, item) for item in items]

    async def asend(self, envelope: Envelope) -> None:
        properties = self._properties(
            headers={ATTEMPTS_HEADER: envelope.attempts}, message_id=envelope.meta.get(MESSAGE_ID_KEY)
        )
        exchange = self.topology.exchange or ""
        await self.session.publish(
            exchange,
            self.topology.routing_key,
            encode_envelope(envelope),
            properties,
            ConnectorOperation.SEND,
            mandatory=self.mandatory,
        )

    async def send_many(self, envelopes: Iterable[Envelope]) -> None:
        """Publish many envelopes, then wait once for all their confirms (fast enqueue)."""
        messages = [
            (
                encode_envelope(env),
                self._properties(
                    headers={ATTEMPTS_HEADER: env.attempts}, message_id=env.meta.get(MESSAGE_ID_KEY)
                ),
            )
            for env in envelopes
        ]
        exchange = self.topology.exchange or ""
        await self.session.publish_many(
            exchange, self.topology.routing_key, messages, ConnectorOperation.SEND, mandatory=self.mandatory
        )

    async def publish_many(self, bodies: Iterable[Any], *, meta: Mapping[str, Any] | None = None) -> None:
        """``send_many`` for plain bodies (attempts 0), like ``Sink.publish`` for one."""
        await self.send_many(plain_envelopes(bodies, meta))

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._session_loop is asyncio.get_running_loop():
            await session.close()
        self._set_open_state(False)

    # ------------------------------------------------------ used by the deliveries
    def _properties(
        self, *, headers: dict[str, Any], message_id: Any = None, priority: int | None = None
    ) -> Any:
        """``message_id``: the envelope's own (sync sends, the outbox) or a new one."""
        import pika

        return pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent if self.persistent else pika.DeliveryMode.Transient,
            headers=headers,
            message_id=message_id if isinstance(message_id, str) and message_id else uuid.uuid4().hex,
            priority=priority,
        )

    def copy_properties(self, original: Any, *, attempts: int) -> Any:
        """The original's properties with the new attempts count (expiration/user_id dropped)."""
        import pika

        headers = dict(getattr(original, "headers", None) or {})
        headers[ATTEMPTS_HEADER] = attempts
        return pika.BasicProperties(
            content_type=original.content_type,
            content_encoding=original.content_encoding,
            headers=headers,
            delivery_mode=pika.DeliveryMode.Persistent if self.persistent else original.delivery_mode,
            priority=original.priority,
            correlation_id=original.correlation_id,
            reply_to=original.reply_to,
            message_id=original.message_id,
            timestamp=original.timestamp,
            type=original.type,
            app_id=original.app_id,
        )

    def session_is_live(self, channel: Any) -> bool:
        return self._session is not None and self._session.is_live(channel)

    def session_settle(self, item: Incoming, how: str) -> bool:
        return self._session is not None and self._session.settle(item, how)

    async def retry_route(self, delay_ms: int) -> str:
        return await self.session.retry_queue(delay_ms)

    def forget_retry_route(self, delay_ms: int) -> None:
        if self._session is not None:
            self._session.forget_retry_queue(delay_ms)

    async def publish_raw(self, exchange: str, routing_key: str, body: bytes, properties: Any,
                          op: ConnectorOperation) -> None:  # fmt: skip
        """Always mandatory: it targets our own queues, so a return means a deleted queue."""
        await self.session.publish(exchange, routing_key, body, properties, op, mandatory=True)
