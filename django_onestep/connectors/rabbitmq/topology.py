"""What a RabbitMQ queue declares: its exchange, queue, binding and retry queues."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["QueueTopology", "declare_topology", "retry_queue_arguments", "retry_queue_name"]

logger = logging.getLogger("django_onestep.connectors.rabbitmq.connector")

# Retry queues vanish when unused for their TTL plus this margin (x-expires); the
# session re-declares them (which resets that timer) long before it can run out.
RETRY_QUEUE_IDLE_MS = 600_000


@dataclass(frozen=True)
class QueueTopology:
    """What ``queue(...)`` declares. Defaults give a plain durable queue, nothing else."""

    name: str
    routing_key: str
    exchange: str | None = None
    exchange_type: str = "direct"
    bind: bool = True
    bind_arguments: dict[str, Any] = field(default_factory=dict)
    durable: bool = True
    auto_delete: bool = False
    exclusive: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)
    exchange_durable: bool = True
    exchange_auto_delete: bool = False
    exchange_arguments: dict[str, Any] = field(default_factory=dict)


def retry_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}"


def retry_queue_arguments(queue: str, delay_ms: int) -> dict[str, Any]:
    """Messages wait ``delay_ms`` then are dead-lettered through the default exchange
    straight back into ``queue``: the main queue itself needs no arguments."""
    return {
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
        "x-expires": delay_ms + RETRY_QUEUE_IDLE_MS,
    }


OpenChannel = Callable[[], Awaitable[Any]]
Rpc = Callable[..., Awaitable[Any]]


async def declare_topology(t: QueueTopology, open_channel: OpenChannel, rpc: Rpc) -> None:
    """Declare exchange, queue and binding on a throwaway channel.

    A queue another application declared with other arguments makes our declaration fail
    with 406 (which closes the channel): we then use the queue as it is (passive).
    """
    import pika.exceptions as pe

    channel = await open_channel()
    if t.exchange:
        await rpc(
            channel,
            channel.exchange_declare,
            exchange=t.exchange,
            exchange_type=t.exchange_type,
            durable=t.exchange_durable,
            auto_delete=t.exchange_auto_delete,
            arguments=t.exchange_arguments or None,
        )
    try:
        await rpc(
            channel,
            channel.queue_declare,
            queue=t.name,
            durable=t.durable,
            exclusive=t.exclusive,
            auto_delete=t.auto_delete,
            arguments=t.arguments or None,
        )
    except pe.ChannelClosedByBroker as exc:
        if exc.reply_code != 406:
            raise
        logger.warning(
            "rabbitmq queue %s exists with other settings; using it as declared (%s)", t.name, exc.reply_text
        )
        channel = await open_channel()
        await rpc(channel, channel.queue_declare, queue=t.name, passive=True)
    if t.exchange and t.bind:
        await rpc(
            channel,
            channel.queue_bind,
            queue=t.name,
            exchange=t.exchange,
            routing_key=t.routing_key,
            arguments=t.bind_arguments or None,
        )
    channel.close()
