"""YAML resource types ``redis`` and ``redis_stream`` (onestep's field names, plus ours).

    resources:
      redis: {type: redis, url: "${REDIS_URL}"}
      jobs: {type: redis_stream, connector: redis, stream: jobs, group: workers, batch_size: 100}

Registered when ``django_onestep.connectors.redis.connector`` is imported; redis-py itself is only
imported when a stream is opened.
"""

from __future__ import annotations

from typing import Any

from django_onestep.connectors.redis.connector import RedisConnector, RedisStream
from django_onestep.core.declarative.registry import ResourceContext, register_resource_type

__all__ = ["register"]

_NUMBERS = ("poll_interval_s", "claim_idle_s", "heartbeat_interval_s", "consumer_gc_idle_s", "backoff_max_s")
_INTEGERS = ("batch_size", "block_ms", "maxlen", "max_deliveries")
_STREAM_FIELDS = frozenset(
    {"stream", "connector", "group", "consumer", "start_id", "create_group", "approximate_trim"}
    | set(_NUMBERS)
    | set(_INTEGERS)
)


def _connector(ctx: ResourceContext, spec: dict[str, Any]) -> RedisConnector:
    return RedisConnector(ctx.string("url"), options=ctx.mapping("options"))


def _stream(ctx: ResourceContext, spec: dict[str, Any]) -> RedisStream:
    connector = ctx.reference("connector")
    if not isinstance(connector, RedisConnector):
        raise ctx.error("connector", f"must name a 'redis' resource, got {type(connector).__name__}")
    kwargs: dict[str, Any] = {
        key: ctx.number(key, minimum=0) for key in _NUMBERS if spec.get(key) is not None
    }
    kwargs.update({key: ctx.integer(key, minimum=1) for key in _INTEGERS if spec.get(key) is not None})
    for key in ("group", "start_id"):
        if key in spec:
            kwargs[key] = ctx.string(key)
    if "consumer" in spec:
        kwargs["consumer"] = ctx.optional_string("consumer")
    for key in ("create_group", "approximate_trim"):
        if key in spec:
            kwargs[key] = ctx.boolean(key)
    if "max_deliveries" in spec and spec["max_deliveries"] is None:
        kwargs["max_deliveries"] = None
    if "consumer_gc_idle_s" in spec and spec["consumer_gc_idle_s"] is None:
        kwargs["consumer_gc_idle_s"] = None
    name = ctx.optional_string("stream") or ctx.resource_name()
    return connector.stream(name, **kwargs)


def register() -> None:
    register_resource_type("redis", _connector, fields=frozenset({"url", "options"}))
    register_resource_type("redis_stream", _stream, fields=_STREAM_FIELDS)
