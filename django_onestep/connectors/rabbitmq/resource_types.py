"""YAML resource types ``rabbitmq`` and ``rabbitmq_queue`` (onestep's field names).

    resources:
      rmq: {type: rabbitmq, url: "${AMQP_URL}"}
      jobs: {type: rabbitmq_queue, connector: rmq, queue: jobs, prefetch: 50}

Registered when ``django_onestep.connectors.rabbitmq.connector`` is imported; pika itself is only
imported when a queue is used.
"""

from __future__ import annotations

from typing import Any

from django_onestep.connectors.rabbitmq.connector import RabbitMQConnector, RabbitMQQueue
from django_onestep.core.declarative.registry import ResourceContext, register_resource_type

__all__ = ["register"]

_QUEUE_FIELDS = frozenset({
    "queue", "connector", "routing_key", "exchange", "exchange_type", "bind", "bind_arguments", "durable",
    "auto_delete", "exclusive", "arguments", "exchange_durable", "exchange_auto_delete", "exchange_arguments",
    "prefetch", "batch_size", "poll_interval_s", "publisher_confirms", "persistent", "mandatory",
    "connect_timeout_s", "publish_timeout_s",
})  # fmt: skip
_PASS_THROUGH = _QUEUE_FIELDS - {"queue", "connector", "bind_arguments", "arguments", "exchange_arguments"}
_STRINGS = frozenset({"routing_key", "exchange", "exchange_type"})


def _connector(ctx: ResourceContext, spec: dict[str, Any]) -> RabbitMQConnector:
    return RabbitMQConnector(ctx.string("url"), options=ctx.mapping("options"))


def _queue(ctx: ResourceContext, spec: dict[str, Any]) -> RabbitMQQueue:
    connector = ctx.reference("connector")
    if not isinstance(connector, RabbitMQConnector):
        raise ctx.error("connector", f"must name a 'rabbitmq' resource, got {type(connector).__name__}")
    name = ctx.optional_string("queue") or ctx.resource_name()
    kwargs = {key: spec[key] for key in _PASS_THROUGH if key in spec}
    for key in _STRINGS & kwargs.keys():
        kwargs[key] = ctx.text(key)  # ``exchange: ${EXCHANGE}`` set to 42 stays "42"
    for key in ("bind_arguments", "arguments", "exchange_arguments"):
        kwargs[key] = ctx.mapping(key)
    return connector.queue(name, **kwargs)


def register() -> None:
    register_resource_type("rabbitmq", _connector, fields=frozenset({"url", "options"}))
    register_resource_type("rabbitmq_queue", _queue, fields=_QUEUE_FIELDS)
