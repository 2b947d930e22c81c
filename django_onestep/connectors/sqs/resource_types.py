"""YAML resource types ``sqs`` and ``sqs_queue`` (onestep's field names).

    resources:
      aws: {type: sqs, region_name: eu-west-1}
      jobs: {type: sqs_queue, connector: aws, url: "${JOBS_QUEUE_URL}", heartbeat_interval_s: 10}

Registered when ``django_onestep.connectors.sqs.connector`` is imported; boto3 itself is only
imported when a queue is used. ``deduplication_id_factory`` (a callable) has no YAML
form; FIFO groups come from ``message_group_id`` (static) or ``message_group_field``.
"""

from __future__ import annotations

from typing import Any

from django_onestep.connectors.sqs.connector import SQSConnector, SQSQueue
from django_onestep.core.declarative.registry import ResourceContext, register_resource_type

__all__ = ["register"]

_QUEUE_FIELDS = frozenset({
    "url", "connector", "wait_time_s", "visibility_timeout", "batch_size", "receive_batches", "poll_interval_s",
    "message_group_id",
    "message_group_field", "on_fail", "delete_batch_size", "delete_flush_interval_s", "heartbeat_interval_s",
    "heartbeat_visibility_timeout",
})  # fmt: skip


def _connector(ctx: ResourceContext, spec: dict[str, Any]) -> SQSConnector:
    kwargs: dict[str, Any] = {}
    if "max_threads" in spec:
        kwargs["max_threads"] = ctx.integer("max_threads", minimum=2)
    return SQSConnector(
        ctx.optional_string("region_name"),
        options=ctx.mapping("options"),
        endpoint_url=ctx.optional_string("endpoint_url"),
        **kwargs,
    )


def _queue(ctx: ResourceContext, spec: dict[str, Any]) -> SQSQueue:
    connector = ctx.reference("connector")
    if not isinstance(connector, SQSConnector):
        raise ctx.error("connector", f"must name an 'sqs' resource, got {type(connector).__name__}")
    kwargs = {key: spec[key] for key in _QUEUE_FIELDS - {"url", "connector"} if key in spec}
    for key in {"message_group_id", "message_group_field", "on_fail"} & kwargs.keys():
        kwargs[key] = ctx.text(key)  # a ``${GROUP}`` of digits stays a string
    return connector.queue(ctx.string("url"), **kwargs)


def register() -> None:
    register_resource_type(
        "sqs", _connector, fields=frozenset({"region_name", "endpoint_url", "options", "max_threads"})
    )
    register_resource_type("sqs_queue", _queue, fields=_QUEUE_FIELDS)
