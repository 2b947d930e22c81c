"""The sync ``send(payload)`` of the broker queues: options each broker refuses, and its shapes.

No broker is contacted: every call here fails (or returns) before publishing.
"""

from __future__ import annotations

import inspect

import pytest

from django_onestep.connectors.rabbitmq import RabbitMQConnector
from django_onestep.connectors.redis import RedisConnector
from django_onestep.connectors.sqs import SQSConnector
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError

redis = RedisConnector("redis://127.0.0.1:1/0").stream("s")
rabbitmq = RabbitMQConnector("amqp://u:p@127.0.0.1:1/").queue("q")
sqs = SQSConnector(region_name="us-east-1", endpoint_url="http://127.0.0.1:1").queue("http://127.0.0.1:1/1/q")
fifo = SQSConnector(region_name="us-east-1", endpoint_url="http://127.0.0.1:1").queue(
    "http://127.0.0.1:1/1/q.fifo"
)


@pytest.mark.parametrize(
    ("queue", "option", "value", "broker"),
    [
        (redis, "priority", 5, "Redis"),
        (redis, "dedupe_key", "k", "Redis"),
        (redis, "group_id", "g", "Redis"),
        (rabbitmq, "dedupe_key", "k", "RabbitMQ"),
        (rabbitmq, "group_id", "g", "RabbitMQ"),
        (sqs, "priority", 5, "a standard SQS queue"),
        (sqs, "group_id", "g", "a standard SQS queue"),
        (fifo, "delay_s", 5, "an SQS FIFO queue"),
    ],
)
def test_an_option_the_broker_cannot_honour_is_refused_by_name(
    queue: object, option: str, value: object, broker: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"{broker} does not support {option}="):
        queue.send({"n": 1}, **{option: value})  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"prio": 1}, TypeError, "unknown option 'prio'"),
        ({"priority": 256}, ConfigurationError, "priority must be an integer from 0 to 255"),
        ({"delay_s": -1}, ConfigurationError, "delay_s"),
        ({"message_id": ""}, ConfigurationError, "message_id must be a string"),
        ({"meta": ["x"]}, ConfigurationError, "meta must be a dict"),
    ],
)
def test_bad_options_name_themselves(options: dict[str, object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        redis.send({"n": 1}, **options)


def test_sqs_delays_are_capped_at_fifteen_minutes() -> None:
    with pytest.raises(ConfigurationError, match="delay_s must be at most 900"):
        sqs.send({"n": 1}, delay_s=901)


def test_given_an_envelope_send_is_the_awaitable_sink_api() -> None:
    for queue in (redis, rabbitmq, sqs):
        pending = queue.send(Envelope(body=1))
        assert inspect.isawaitable(pending)
        pending.close()  # never awaited: nothing was sent


async def test_a_sync_send_on_a_running_event_loop_says_what_to_use() -> None:
    with pytest.raises(TypeError, match=r"await task\.aenqueue"):
        redis.send({"n": 1}, on_commit=False)


def test_targets_name_the_queue_without_secrets() -> None:
    assert rabbitmq.publish_target == "rabbitmq:amqp://u:***@127.0.0.1:1/::q"
    assert redis.publish_target == "redis:redis://127.0.0.1:1/0:s"
