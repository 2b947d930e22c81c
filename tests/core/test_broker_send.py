"""The sync ``send(payload)`` of the broker queues: options each broker refuses, and its shapes.

No broker is contacted: every call here fails (or returns) before publishing.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

from django_onestep.connectors import broker_send
from django_onestep.connectors.broker_send import PublishOptions
from django_onestep.connectors.publisher_thread import publish_batch, shutdown
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


def test_a_fifo_send_without_a_group_fails_at_the_call() -> None:
    with pytest.raises(ConfigurationError, match="a FIFO queue needs group_id="):
        fifo.send({"n": 1})


class SlowQueue:
    """Confirms after ``confirm_s``; its own twin."""

    publish_target = "slow:q"

    def __init__(self, confirm_s: float) -> None:
        self.confirm_s = confirm_s

    def publisher_twin(self) -> SlowQueue:
        return self

    async def publish_confirmed_many(self, envelopes: list[Envelope], options: PublishOptions) -> None:
        await asyncio.sleep(self.confirm_s)

    async def close(self) -> None:
        return None


def test_a_batch_not_confirmed_in_time_counts_as_not_published() -> None:
    items = [(SlowQueue(5.0), Envelope(body=n), PublishOptions()) for n in range(3)]
    try:
        results = publish_batch(items, timeout_s=0.1)
    finally:
        shutdown()
    assert [type(r) for r in results] == [TimeoutError] * 3
    assert "no confirm within 0.1 s" in str(results[0])


def test_without_django_a_send_publishes_at_once_and_refuses_the_outbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[Envelope] = []
    monkeypatch.setattr(broker_send, "_hook", None)  # as in a plain asyncio program
    monkeypatch.setattr(broker_send, "publish_now", lambda queue, envelope, options: sent.append(envelope))
    message_id = redis.send({"n": 1}, meta={"trace": "t1"})
    assert [(e.body, e.meta) for e in sent] == [({"n": 1}, {"trace": "t1", "message_id": message_id})]
    with pytest.raises(ConfigurationError, match="outbox=True needs Django"):
        redis.send({"n": 2}, outbox=True)
