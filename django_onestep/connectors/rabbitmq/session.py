"""One AMQP connection for one RabbitMQ queue, on the worker's event loop.

pika's ``AsyncioConnection`` adapter runs the protocol on the running asyncio loop, so
acks, nacks and publishes happen on the connection's own thread without hops; this
module turns pika's callbacks into awaitables. It owns:

* a consumer channel (``basic_qos(prefetch)`` + ``basic_consume``, manual acks) whose
  messages land in a local buffer that ``fetch`` drains;
* a publisher channel in confirm mode (each publish awaits the broker's ack; a
  mandatory publish no binding routes is returned by the broker and raises);
* reconnection with capped exponential backoff. Deliveries remember the channel they
  came on: once that channel is gone their delivery tags mean nothing, so ack/nack on
  them is skipped (the broker already requeued them and will redeliver).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django_onestep.connectors.rabbitmq.classify import RabbitMQError, to_connector_error
from django_onestep.connectors.rabbitmq.confirms import ConfirmTracker
from django_onestep.connectors.rabbitmq.topology import (
    QueueTopology,
    declare_topology,
    retry_queue_arguments,
    retry_queue_name,
)
from django_onestep.core.errors import (
    ConnectorErrorKind,
    ConnectorOperation,
    ConnectorOperationError,
)

__all__ = ["AmqpSession", "Incoming"]

logger = logging.getLogger("django_onestep.connectors.rabbitmq.connector")

_BACKOFF_FIRST_S = 0.25
_BACKOFF_CAP_S = 10.0
_RETRY_REDECLARE_AFTER_S = 120.0  # well inside the retry queues' idle expiry
_SEND_RETURN_HINT = "bind a queue to it or pass mandatory=False"
_RETRY_RETURN_HINT = "its queue was deleted; the original message is requeued"


@dataclass
class Incoming:
    """A message as pika handed it over, with the channel that owns its delivery tag."""

    channel: Any
    method: Any
    properties: Any
    body: bytes


def _resolver(future: asyncio.Future[Any]) -> Callable[..., None]:
    """A pika callback that resolves ``future`` with its first argument (once)."""

    def callback(*args: Any) -> None:
        if not future.done():
            future.set_result(args[0] if args else None)

    return callback


class AmqpSession:
    def __init__(
        self,
        *,
        url: str,
        options: dict[str, Any],
        topology: QueueTopology,
        prefetch: int,
        publisher_confirms: bool,
        connect_timeout_s: float,
        publish_timeout_s: float,
        tokens: list[str],
    ) -> None:
        self.url = url
        self.options = options
        self.topology = topology
        self.prefetch = prefetch
        self.publisher_confirms = publisher_confirms
        self.connect_timeout_s = connect_timeout_s
        self.publish_timeout_s = publish_timeout_s
        self.tokens = tokens
        self._conn: Any = None
        # The connection whose queues are declared: a second caller arriving while the
        # first still declares them must wait for that, not use the bare connection.
        self._declared_conn: Any = None
        self._conn_lock: asyncio.Lock | None = None
        self._publish_lock: asyncio.Lock | None = None
        self._consume_ch: Any = None
        self._publish_ch: Any = None
        self._closed_futures: dict[int, asyncio.Future[BaseException]] = {}
        self._buffer: collections.deque[Incoming] = collections.deque()
        self._has_messages = asyncio.Event()
        self._confirms = ConfirmTracker(lambda: RuntimeError("no publisher channel"))
        self._retry_declared_at: dict[int, float] = {}
        self._failures = 0
        self._next_connect_at = 0.0
        self.connections_opened = 0  # observable in tests: proves a reconnect happened

    # ----------------------------------------------------------------- connection
    def _error(self, exc: BaseException, op: ConnectorOperation, **kw: Any) -> ConnectorOperationError:
        return to_connector_error(exc, operation=op, source_name=self.topology.name, tokens=self.tokens, **kw)

    def _parameters(self) -> Any:
        import pika

        params = pika.URLParameters(self.url)
        for key, value in self.options.items():
            setattr(params, key, value)  # validated against ConnectionParameters by the connector
        return params

    async def connect(self) -> None:
        await self._connection(ConnectorOperation.OPEN)

    def _ready(self) -> bool:
        conn = self._conn
        return conn is not None and conn.is_open and conn is self._declared_conn

    async def _connection(self, op: ConnectorOperation) -> Any:
        if self._ready():
            return self._conn
        if self._conn_lock is None:
            self._conn_lock = asyncio.Lock()
        async with self._conn_lock:
            if self._ready():
                return self._conn
            # Capped exponential backoff between connection attempts, whoever asks.
            wait_s = self._next_connect_at - time.monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            try:
                self._conn = await self._connect()
            except Exception as exc:
                self._failures += 1
                delay_s = min(_BACKOFF_CAP_S, _BACKOFF_FIRST_S * 2 ** (self._failures - 1))
                self._next_connect_at = time.monotonic() + delay_s
                raise self._error(exc, op, retry_delay_s=delay_s) from None
            self._failures = 0
            self.connections_opened += 1
            if self.connections_opened > 1:
                logger.info("rabbitmq queue %s reconnected", self.topology.name)
            await self._declare_topology(op)
            self._declared_conn = self._conn
            return self._conn

    async def _connect(self) -> Any:
        from pika.adapters.asyncio_connection import AsyncioConnection

        loop = asyncio.get_running_loop()
        opened: asyncio.Future[Any] = loop.create_future()

        def on_open(conn: Any) -> None:
            if not opened.done():
                opened.set_result(conn)

        def on_open_error(_conn: Any, exc: BaseException) -> None:
            if not opened.done():
                opened.set_exception(exc if isinstance(exc, Exception) else ConnectionError(str(exc)))

        conn = AsyncioConnection(
            self._parameters(),
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=self._on_connection_closed,
            custom_ioloop=loop,
        )
        try:
            return await asyncio.wait_for(opened, self.connect_timeout_s)
        except BaseException:
            if not conn.is_closed and not conn.is_closing:
                try:
                    conn.close()
                except Exception:  # already failing; the original error is what matters
                    pass
            raise

    def _on_connection_closed(self, conn: Any, exc: BaseException) -> None:
        if conn is not self._conn:
            return
        self._conn = None
        self._consume_ch = None
        self._publish_ch = None
        # The broker requeues every unacked message of a dead connection.
        self._buffer.clear()
        logger.warning("rabbitmq queue %s lost its connection (%s)", self.topology.name, type(exc).__name__)

    async def _channel(self, conn: Any) -> Any:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[Any] = loop.create_future()
        closed: asyncio.Future[BaseException] = loop.create_future()

        def on_close(channel: Any, reason: BaseException) -> None:
            if not closed.done():
                closed.set_result(reason)
            if not opened.done():
                opened.set_exception(
                    reason if isinstance(reason, Exception) else ConnectionError(str(reason))
                )
            self._on_channel_closed(channel, reason)

        channel = conn.channel(on_open_callback=_resolver(opened))
        channel.add_on_close_callback(on_close)
        self._closed_futures[id(channel)] = closed
        return await self._wait(channel, opened)

    def _on_channel_closed(self, channel: Any, reason: BaseException) -> None:
        self._closed_futures.pop(id(channel), None)
        if channel is self._consume_ch:
            self._consume_ch = None
            self._buffer.clear()
        if channel is self._publish_ch:
            self._publish_ch = None
            self._confirms.fail_all(
                self._error(
                    ConnectionError(f"channel closed before confirm: {reason}"), ConnectorOperation.SEND
                )
            )

    async def _wait(self, channel: Any, future: asyncio.Future[Any], timeout_s: float | None = None) -> Any:
        """Await ``future`` unless ``channel`` closes first (then raise why it closed)."""
        closed = self._closed_futures.get(id(channel))
        if closed is None:
            raise ConnectionError("channel is closed")
        done, _ = await asyncio.wait(
            {future, closed}, timeout=timeout_s or self.connect_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if future in done:
            return future.result()
        if closed in done:
            reason = closed.result()
            raise reason if isinstance(reason, Exception) else ConnectionError(str(reason))
        raise TimeoutError(f"no answer from RabbitMQ within {timeout_s or self.connect_timeout_s}s")

    async def _rpc(self, channel: Any, method: Callable[..., Any], **kwargs: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        method(**kwargs, callback=_resolver(future))
        return await self._wait(channel, future)

    async def _declare_topology(self, op: ConnectorOperation) -> None:
        conn = self._conn
        try:
            await declare_topology(self.topology, lambda: self._channel(conn), self._rpc)
        except Exception as exc:
            self._conn = None
            if conn is not None and conn.is_open:
                conn.close()
            raise self._error(exc, op) from None

    # ------------------------------------------------------------------- consumer
    async def _consuming(self) -> Any:
        if self._consume_ch is not None and self._consume_ch.is_open:
            return self._consume_ch
        conn = await self._connection(ConnectorOperation.FETCH)
        channel = None
        try:
            channel = await self._channel(conn)
            await self._rpc(channel, channel.basic_qos, prefetch_count=self.prefetch)
            channel.add_on_cancel_callback(lambda _frame: self._on_consumer_cancelled(channel))
            consumed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            channel.basic_consume(
                queue=self.topology.name,
                on_message_callback=self._on_message,
                callback=_resolver(consumed),
            )
            await self._wait(channel, consumed)
        except Exception as exc:
            # A half-set-up consumer must not keep messages unacked on a channel we dropped.
            if channel is not None and channel.is_open:
                channel.close()
            raise self._error(exc, ConnectorOperation.FETCH) from None
        self._consume_ch = channel
        return channel

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self._buffer.append(Incoming(channel, method, properties, body))
        self._has_messages.set()

    def _on_consumer_cancelled(self, channel: Any) -> None:
        # The queue was deleted or the broker cancelled us: consume again on next fetch.
        logger.warning("rabbitmq consumer on %s was cancelled by the broker", self.topology.name)
        if channel is self._consume_ch:
            self._consume_ch = None
            if channel.is_open:
                channel.close()

    async def get(self, limit: int, wait_s: float) -> list[Incoming]:
        """Up to ``limit`` buffered messages, waiting at most ``wait_s`` for the first."""
        await self._consuming()
        if not self._buffer:
            self._has_messages.clear()
            try:
                # An Event (not a queue.get under wait_for) so a timeout or a cancel can
                # never swallow a message that was just handed over.
                await asyncio.wait_for(self._has_messages.wait(), wait_s)
            except TimeoutError:
                return []
        taken: list[Incoming] = []
        while self._buffer and len(taken) < limit:
            item = self._buffer.popleft()
            if self.is_live(item.channel):
                taken.append(item)
        return taken

    def is_live(self, channel: Any) -> bool:
        return channel is self._consume_ch and channel is not None and channel.is_open

    # ------------------------------------------------------------------ publisher
    async def _publisher(self, op: ConnectorOperation) -> tuple[Any, ConfirmTracker]:
        """The publisher channel and its confirm tracker (opened once, even under concurrency)."""
        if self._publish_ch is not None and self._publish_ch.is_open:
            return self._publish_ch, self._confirms
        if self._publish_lock is None:
            self._publish_lock = asyncio.Lock()
        async with self._publish_lock:
            if self._publish_ch is not None and self._publish_ch.is_open:
                return self._publish_ch, self._confirms
            conn = await self._connection(op)
            confirms = ConfirmTracker(
                lambda: self._error(
                    RuntimeError("broker nacked the publish"),
                    ConnectorOperation.SEND,
                    kind=ConnectorErrorKind.TRANSIENT,
                ),
                self._unroutable_error,
            )
            try:
                channel = await self._channel(conn)
                channel.add_on_return_callback(functools.partial(self._on_return, confirms))
                if self.publisher_confirms:
                    selected: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                    channel.confirm_delivery(
                        ack_nack_callback=confirms.on_confirm, callback=_resolver(selected)
                    )
                    await self._wait(channel, selected)
            except Exception as exc:
                raise self._error(exc, op) from None
            self._publish_ch, self._confirms = channel, confirms
            return channel, confirms

    def _unroutable_error(self, method: Any, op: ConnectorOperation) -> ConnectorOperationError:
        hint = _RETRY_RETURN_HINT if op is ConnectorOperation.RETRY else _SEND_RETURN_HINT
        return ConnectorOperationError(
            backend="rabbitmq",
            operation=op,
            kind=ConnectorErrorKind.MISCONFIGURED,
            source_name=self.topology.name,
            cause=RabbitMQError(f"{method.reply_code} {method.reply_text}"),
            message=(
                "RabbitMQ returned the message unroutable: "
                f"exchange {method.exchange!r}, routing key {method.routing_key!r}: {hint}"
            ),
        )

    def _on_return(
        self, confirms: ConfirmTracker, _channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        if confirms.on_return(method, properties, body):
            return  # the awaiting publish raises it
        # Without publisher confirms nobody waits for the outcome: the log is all there is.
        logger.error(
            "rabbitmq queue %s: RabbitMQ returned a message unroutable (%s %s): exchange %r, routing key %r",
            self.topology.name,
            method.reply_code,
            method.reply_text,
            method.exchange,
            method.routing_key,
        )

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: Any,
        op: ConnectorOperation,
        *,
        mandatory: bool = True,
    ) -> None:
        await self.publish_many(exchange, routing_key, [(body, properties)], op, mandatory=mandatory)

    async def publish_many(
        self,
        exchange: str,
        routing_key: str,
        messages: list[tuple[bytes, Any]],
        op: ConnectorOperation,
        *,
        mandatory: bool = True,
    ) -> None:
        """Publish all, then wait for every confirm (pipelined: one round trip per batch).

        ``mandatory``: a message no binding routes is returned by the broker, and its
        publish raises (kind ``misconfigured``) instead of being dropped.
        """
        channel, confirms = await self._publisher(op)
        gathered: asyncio.Future[Any] | None = None
        try:
            futures = []
            for body, properties in messages:
                channel.basic_publish(
                    exchange=exchange,
                    routing_key=routing_key,
                    body=body,
                    properties=properties,
                    mandatory=mandatory,
                )
                if self.publisher_confirms:
                    returnable = (
                        ((exchange, routing_key, properties.message_id, body), op) if mandatory else None
                    )
                    futures.append(confirms.next(returnable))
            if futures:
                gathered = asyncio.gather(*futures)
                await self._wait(channel, gathered, self.publish_timeout_s)
        except ConnectorOperationError:
            raise
        except Exception as exc:
            # Unknown outcome (maybe published): the caller retries, at-least-once.
            raise self._error(exc, op) from None
        finally:
            if gathered is not None and not gathered.done():
                gathered.cancel()

    async def retry_queue(self, delay_ms: int) -> str:
        """Declare (at most every few minutes) the TTL'd queue for one delay bucket."""
        name = retry_queue_name(self.topology.name, delay_ms)
        declared_at = self._retry_declared_at.get(delay_ms)
        channel, _confirms = await self._publisher(ConnectorOperation.RETRY)
        if declared_at is not None and time.monotonic() - declared_at < _RETRY_REDECLARE_AFTER_S:
            return name
        arguments = retry_queue_arguments(self.topology.name, delay_ms)
        try:
            await self._rpc(channel, channel.queue_declare, queue=name, durable=True, arguments=arguments)
        except Exception as exc:
            raise self._error(exc, ConnectorOperation.RETRY) from None
        self._retry_declared_at[delay_ms] = time.monotonic()
        return name

    def forget_retry_queue(self, delay_ms: int) -> None:
        """The retry queue was found missing: declare it again on its next use."""
        self._retry_declared_at.pop(delay_ms, None)

    # ---------------------------------------------------------------- settlement
    def settle(self, item: Incoming, how: str) -> bool:
        """ack / requeue / reject one message; False when its channel is already gone."""
        if not self.is_live(item.channel):
            return False
        tag = item.method.delivery_tag
        if how == "ack":
            item.channel.basic_ack(delivery_tag=tag)
        elif how == "requeue":
            item.channel.basic_nack(delivery_tag=tag, requeue=True)
        else:
            item.channel.basic_reject(delivery_tag=tag, requeue=False)
        return True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._consume_ch = self._publish_ch = None
        self._buffer.clear()
        self._retry_declared_at.clear()
        if conn is None or conn.is_closed:
            return
        closed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        conn.add_on_close_callback(_resolver(closed))
        if not conn.is_closing:
            conn.close()
        try:
            await asyncio.wait_for(closed, self.connect_timeout_s)
        except TimeoutError:
            logger.warning("rabbitmq queue %s: connection did not close in time", self.topology.name)
