"""RabbitMQ queue against the shared real broker (Source/Sink/Delivery API, in process).

A "foreign" producer is pika's BlockingConnection, used exactly as another application
would: it declares a plain durable queue and publishes plain JSON.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from django_onestep.connectors.rabbitmq import RabbitMQConnector, RabbitMQQueue
from django_onestep.connectors.rabbitmq.delivery import ATTEMPTS_HEADER, delay_bucket_ms
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError, ConnectorErrorKind, ConnectorOperationError
from tests.needs import require_module

pika = require_module("pika")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Foreign:
    """Another application's blocking pika client."""

    def __init__(self, url: str) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.ch = self.conn.channel()

    def declare(self, name: str, **arguments: Any) -> None:
        self.ch.queue_declare(name, durable=True, arguments=arguments or None)

    def publish(self, name: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
        props = pika.BasicProperties(delivery_mode=2, headers=headers)
        self.ch.basic_publish("", name, body, props)

    def count(self, name: str) -> int:
        return int(self.ch.queue_declare(name, passive=True).method.message_count)

    def get(self, name: str) -> tuple[Any, bytes] | None:
        method, props, body = self.ch.basic_get(name, auto_ack=True)
        return None if method is None else (props, body)

    def delete(self, *names: str) -> None:
        for name in names:
            self.ch.queue_delete(name)


@pytest.fixture
def foreign(amqp_url: str) -> Iterator[Foreign]:
    client = Foreign(amqp_url)
    yield client
    client.conn.close()


async def fetch_n(queue: RabbitMQQueue, n: int, timeout_s: float = 20.0) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} messages arrived"
        got += await queue.fetch(n - len(got))
    return got


async def test_roundtrip_in_onestep_wire_format(amqp_url: str, foreign: Foreign) -> None:
    name = unique("rt")
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    await queue.open()
    try:
        await queue.send(Envelope(body={"n": 1}, meta={"k": "v"}, attempts=2))
        await queue.publish([1, 2])
        first, second = await fetch_n(queue, 2)
        assert (first.payload, first.envelope.meta, first.envelope.attempts) == ({"n": 1}, {"k": "v"}, 2)
        assert (second.payload, second.envelope.attempts) == ([1, 2], 0)
        await first.ack()
        await second.ack()
    finally:
        await queue.close()
    assert foreign.count(name) == 0
    foreign.delete(name)


async def test_foreign_producer_on_plain_durable_queue(amqp_url: str, foreign: Foreign) -> None:
    name = unique("foreign")
    foreign.declare(name)  # declared first by another application, no arguments
    foreign.publish(name, b'{"order_id": 7}')
    foreign.publish(name, b'{"body": "hi", "subject": "x"}')  # not an envelope: kept whole
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    try:
        got = await fetch_n(queue, 2)
        assert [(d.payload, d.envelope.meta, d.envelope.attempts) for d in got] == [
            ({"order_id": 7}, {}, 0),
            ({"body": "hi", "subject": "x"}, {}, 0),
        ]
        assert [d.poison_reason for d in got] == [None, None]
        # a delayed retry works without any argument on the main queue
        await got[0].retry(delay_s=0.3)
        await got[1].ack()
        (again,) = await fetch_n(queue, 1)
        assert (again.payload, again.envelope.attempts) == ({"order_id": 7}, 1)
        await again.ack()
    finally:
        await queue.close()
    # The other application can still declare it the way it always did: we added nothing.
    foreign.declare(name)
    assert foreign.count(name) == 0
    foreign.delete(name)


async def test_queue_declared_with_other_arguments_is_used_as_is(amqp_url: str, foreign: Foreign) -> None:
    name = unique("args")
    foreign.declare(name, **{"x-max-length": 1000})
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    try:
        await queue.open()  # our plain declaration gets 406; we fall back to a passive one
        await queue.publish({"a": 1})
        (delivery,) = await fetch_n(queue, 1)
        assert delivery.payload == {"a": 1}
        await delivery.ack()
    finally:
        await queue.close()
    foreign.delete(name)


async def test_delayed_retry_waits_in_a_ttl_queue_and_counts_attempts(
    amqp_url: str, foreign: Foreign
) -> None:
    name = unique("delay")
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.1)
    try:
        await queue.publish({"job": 1})
        (delivery,) = await fetch_n(queue, 1)
        assert delivery.envelope.attempts == 0
        retried_at = time.monotonic()
        await delivery.retry(delay_s=1.5)
        assert foreign.count(f"{name}.retry.1500") == 1  # parked, not requeued hot
        assert await queue.fetch(1) == []
        (again,) = await fetch_n(queue, 1)
        assert time.monotonic() - retried_at >= 1.4
        assert (again.payload, again.envelope.attempts) == ({"job": 1}, 1)
        await again.retry()  # immediate retry: straight back, attempts counted again
        (third,) = await fetch_n(queue, 1)
        assert third.envelope.attempts == 2
        await third.ack()
    finally:
        await queue.close()
    assert foreign.count(name) == 0
    foreign.delete(name, f"{name}.retry.1500")


def test_delay_buckets_round_up_to_two_significant_digits() -> None:
    assert [delay_bucket_ms(s) for s in (0.0001, 0.05, 0.5, 2.137, 64.3, 3600)] == [
        1,
        50,
        500,
        2200,
        65000,
        3600000,
    ]


async def test_undecodable_and_empty_bodies_are_poison(amqp_url: str, foreign: Foreign) -> None:
    name = unique("poison")
    foreign.declare(name)
    foreign.publish(name, b"\xff\xfe not utf-8")
    foreign.publish(name, b"not json")
    foreign.publish(name, b"")
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    try:
        got = await fetch_n(queue, 3)
        reasons = [d.poison_reason for d in got]
        assert all(reasons), reasons
        assert "UTF-8" in reasons[0] and "JSON" in reasons[1] and "empty" in reasons[2]
        assert got[1].payload == "not json"  # the dead letter shows what arrived
        for d in got:
            await d.fail()
    finally:
        await queue.close()
    assert foreign.count(name) == 0
    foreign.delete(name)


async def test_fail_rejects_into_the_queues_own_dead_letter_exchange(amqp_url: str, foreign: Foreign) -> None:
    name, dlq = unique("dlx"), unique("dlx-dead")
    foreign.declare(dlq)
    args = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq}
    queue = RabbitMQConnector(amqp_url).queue(name, arguments=args, poll_interval_s=0.2)
    try:
        await queue.publish({"bad": True})
        (delivery,) = await fetch_n(queue, 1)
        await delivery.fail(RuntimeError("boom"))
        for _ in range(200):  # up to ~10 s
            if foreign.count(dlq):
                break
            await asyncio.sleep(0.05)
        assert foreign.count(dlq) == 1
        assert foreign.count(name) == 0
    finally:
        await queue.close()
    foreign.delete(name, dlq)


async def test_exchange_and_routing_key(amqp_url: str, foreign: Foreign) -> None:
    name, exchange = unique("ex"), unique("jobs.events")
    connector = RabbitMQConnector(amqp_url)
    source = connector.queue(name, exchange=exchange, routing_key="jobs.created", poll_interval_s=0.2)
    sink = connector.queue(unique("ex-out"), exchange=exchange, routing_key="jobs.created", bind=False)
    try:
        await source.open()
        await sink.publish({"via": "exchange"})
        (delivery,) = await fetch_n(source, 1)
        assert delivery.payload == {"via": "exchange"}
        await delivery.ack()
    finally:
        await source.close()
        await sink.close()
    foreign.delete(name, sink.name)
    foreign.ch.exchange_delete(exchange)


async def test_deliveries_from_a_dead_connection_are_not_acked_on_the_new_one(
    amqp_url: str, foreign: Foreign
) -> None:
    name = unique("stale")
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    try:
        await queue.publish({"x": 1})
        (delivery,) = await fetch_n(queue, 1)
        assert queue.session.connections_opened == 1
        await queue.session.close()  # the connection dies under an unacked delivery
        await delivery.ack()  # stale delivery tag: skipped, not sent on a new channel
        (again,) = await fetch_n(queue, 1)  # reconnects and gets the broker's redelivery
        assert again.payload == {"x": 1} and again.redelivered is True
        assert queue.session.connections_opened == 2
        await again.ack()
    finally:
        await queue.close()
    assert foreign.count(name) == 0
    foreign.delete(name)


async def test_attempts_header_wins_over_the_body(amqp_url: str, foreign: Foreign) -> None:
    name = unique("hdr")
    foreign.declare(name)
    foreign.publish(name, b'{"body": 1, "meta": {}, "attempts": 0}', headers={ATTEMPTS_HEADER: 4})
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    try:
        (delivery,) = await fetch_n(queue, 1)
        assert (delivery.payload, delivery.envelope.attempts) == (1, 4)
        await delivery.ack()
    finally:
        await queue.close()
    foreign.delete(name)


async def test_wrong_password_is_misconfigured_and_never_shows_the_password(amqp_url: str) -> None:
    bad_url = amqp_url.replace("guest:guest@", "guest:s3cr3t-pw@")
    queue = RabbitMQConnector(bad_url).queue(unique("auth"))
    with pytest.raises(ConnectorOperationError) as info:
        await queue.open()
    assert info.value.kind is ConnectorErrorKind.MISCONFIGURED
    assert "s3cr3t-pw" not in str(info.value) and "s3cr3t-pw" not in repr(queue)
    await queue.close()


async def test_unreachable_broker_is_a_retryable_error_with_backoff() -> None:
    queue = RabbitMQConnector("amqp://guest:pw@127.0.0.1:1/%2F").queue(unique("down"), connect_timeout_s=2)
    await queue.open()  # a down broker does not stop startup
    delays = []
    for _ in range(3):
        with pytest.raises(ConnectorOperationError) as info:
            await queue.fetch(1)
        assert info.value.kind is ConnectorErrorKind.DISCONNECTED and info.value.retryable
        delays.append(info.value.retry_delay_s)
    # the reason is named (pika's own error text is empty) and the password is not
    assert "Connection refused" in str(info.value) and ":pw@" not in str(info.value)
    assert delays == [0.5, 1.0, 2.0]  # capped exponential backoff between attempts
    await queue.close()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"prefetch": -1}, "prefetch"),
        ({"batch_size": 0}, "batch_size"),
        ({"poll_interval_s": 0}, "poll_interval_s"),
        ({"poll_interval_s": True}, "poll_interval_s: must be a number, got True"),  # was taken as 1
        ({"prefetch": 1.0}, "prefetch: must be an integer, got 1.0"),
        ({"exchange_type": "fan"}, "exchange_type"),
        # these reached pika and came back as "disconnected", retried for ever
        ({"routing_key": 5}, "routing_key must be a string or None, got 5"),
        ({"exchange": 5}, "exchange must be a string or None, got 5"),
        ({"durable": "no"}, "durable must be True or False, got 'no'"),
        ({"arguments": [1]}, "arguments must be a mapping, got list"),
    ],
)
def test_bad_queue_settings_name_the_key(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        RabbitMQConnector("amqp://localhost/").queue("q", **kwargs)


def test_a_malformed_url_is_a_configuration_error_not_an_outage() -> None:
    with pytest.raises(ConfigurationError) as info:
        RabbitMQConnector("amqp://guest:s3cr3t@localhost:notaport/")
    assert str(info.value) == (
        "RabbitMQConnector url 'amqp://guest:***@localhost:notaport/': "
        "Port could not be cast to integer value as 'notaport'"
    )


async def test_a_setting_pika_rejects_stops_startup_instead_of_reconnecting_for_ever() -> None:
    queue = RabbitMQConnector("amqp://guest:pw@127.0.0.1:1/?bogus=1").queue(unique("bad"))
    with pytest.raises(ConnectorOperationError) as info:
        await queue.open()  # raised before any connection attempt
    assert info.value.kind is ConnectorErrorKind.MISCONFIGURED and not info.value.retryable
    assert "Unknown URL parameter: 'bogus'" in str(info.value)
    await queue.close()


def test_pika_info_chatter_is_quiet_unless_the_user_set_a_level(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from django_onestep.connectors.rabbitmq.connector import _require_pika

    pika_logger = logging.getLogger("pika")
    monkeypatch.setattr(pika_logger, "level", logging.NOTSET)
    _require_pika()
    assert pika_logger.level == logging.WARNING
    pika_logger.setLevel(logging.DEBUG)  # the user's choice wins
    _require_pika()
    assert pika_logger.level == logging.DEBUG


def test_bad_connector_settings_name_the_key() -> None:
    with pytest.raises(ConfigurationError, match="amqp://"):
        RabbitMQConnector("redis://u:pw@localhost/")
    with pytest.raises(ConfigurationError, match="hearbeat"):
        RabbitMQConnector("amqp://localhost/", options={"hearbeat": 5})
    assert "pw" not in repr(RabbitMQConnector("amqp://u:pw@localhost/"))


def test_yaml_resource_types_build_queues_without_importing_pika_eagerly() -> None:
    from django_onestep.core.declarative import registry as yaml_resources

    spec = {
        "resources": {
            "rmq": {"type": "rabbitmq", "url": "amqp://u:pw@localhost/"},
            "jobs": {"type": "rabbitmq_queue", "connector": "rmq", "queue": "jobs", "prefetch": 5},
        }
    }
    built = yaml_resources.build_resources(spec)
    assert isinstance(built["jobs"], RabbitMQQueue)
    assert (built["jobs"].name, built["jobs"].prefetch) == ("jobs", 5)
    spec["resources"]["jobs"]["prefech"] = 5
    with pytest.raises(ConfigurationError, match="prefech"):
        yaml_resources.build_resources(spec)


async def test_send_many_publishes_everything_with_confirms(amqp_url: str, foreign: Foreign) -> None:
    name = unique("batch")
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    try:
        await queue.send_many([Envelope(body={"i": i}, attempts=i % 2) for i in range(298)])
        await queue.publish_many([{"i": 298}, {"i": 299}], meta={"m": 1})
        assert foreign.count(name) == 300  # confirmed = stored by the broker
        seen = []
        for _ in range(3):  # prefetch is 100: ack each hundred before the next arrives
            got = await fetch_n(queue, 100)
            seen += [(d.payload["i"], d.envelope.attempts) for d in got]
            for d in got:
                await d.ack()
        assert seen == [(i, i % 2) for i in range(298)] + [(298, 0), (299, 0)]
    finally:
        await queue.close()
    foreign.delete(name)


async def test_settling_twice_does_not_break_the_channel(amqp_url: str, foreign: Foreign) -> None:
    name = unique("twice")
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    try:
        await queue.send_many([Envelope(body=1), Envelope(body=2)])
        first, second = await fetch_n(queue, 2)
        channel = queue.session._consume_ch
        await first.ack()
        await first.ack()  # a second basic.ack of a tag would make the broker close the channel
        await first.fail()
        await asyncio.sleep(0.3)
        assert channel.is_open and queue.session._consume_ch is channel
        await second.ack()
    finally:
        await queue.close()
    assert foreign.count(name) == 0
    foreign.delete(name)


async def test_retry_queue_that_cannot_be_declared_falls_back_to_a_counted_retry(
    amqp_url: str, foreign: Foreign
) -> None:
    name = unique("noretryq")
    foreign.declare(f"{name}.retry.500")  # squatted with other arguments: our declaration gets 406
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.2)
    try:
        await queue.publish({"job": 1})
        (delivery,) = await fetch_n(queue, 1)
        await delivery.retry(delay_s=0.5)
        (again,) = await fetch_n(queue, 1)  # not lost, not looping uncounted: attempts grew
        assert (again.payload, again.envelope.attempts) == ({"job": 1}, 1)
        await again.ack()
    finally:
        await queue.close()
    assert foreign.count(name) == 0 and foreign.count(f"{name}.retry.500") == 0
    foreign.delete(name, f"{name}.retry.500")


async def test_quorum_delivery_limit_bounds_a_crash_loop_as_documented(
    amqp_url: str, foreign: Foreign
) -> None:
    name = unique("quorum")
    connector = RabbitMQConnector(amqp_url)
    crashed = connector.queue(f"{name}.crashed", poll_interval_s=0.2)
    arguments = {
        "x-queue-type": "quorum",
        "x-delivery-limit": 1,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": f"{name}.crashed",
    }
    queue = connector.queue(name, arguments=arguments, poll_interval_s=0.2)
    try:
        await crashed.open()
        await queue.publish({"a": 1})
        deliveries = 0
        for _ in range(3):
            got = []
            for _ in range(10):  # up to ~2 s
                got = await queue.fetch(1)
                if got:
                    break
            if not got:
                break
            deliveries += 1
            await queue.session.close()  # the worker "crashes" with the message unacked
        assert deliveries == 2  # the first delivery + x-delivery-limit redeliveries
        (moved,) = await fetch_n(crashed, 1)
        assert moved.payload == {"a": 1}
        await moved.ack()
    finally:
        await queue.close()
        await crashed.close()
    foreign.delete(name, f"{name}.crashed")


async def test_concurrent_first_sends_share_one_confirming_channel(amqp_url: str, foreign: Foreign) -> None:
    name = unique("race")
    queue = RabbitMQConnector(amqp_url).queue(name, publish_timeout_s=10)
    try:
        # Eight handlers emitting at once right after startup: one publisher channel is
        # opened and every send gets its own confirm.
        await asyncio.wait_for(asyncio.gather(*(queue.publish({"i": i}) for i in range(8))), 10)
        assert foreign.count(name) == 8
        open_channels = [ch for ch in queue.session._conn._channels.values() if ch.is_open]  # pika internals
        assert open_channels == [queue.session._publish_ch]  # not one leaked channel per early sender
    finally:
        await queue.close()
    foreign.delete(name)


async def test_a_second_caller_during_the_first_connect_waits_for_the_queues_to_be_declared(
    amqp_url: str, foreign: Foreign, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_onestep.connectors.rabbitmq import session

    real_declare = session.declare_topology

    async def slow_declare(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.3)  # the window in which a second caller used to slip through
        return await real_declare(*args, **kwargs)

    monkeypatch.setattr(session, "declare_topology", slow_declare)
    name = unique("declare-race")
    queue = RabbitMQConnector(amqp_url).queue(name)
    try:
        opening = asyncio.create_task(queue.open())
        await asyncio.sleep(0.1)  # the first caller is connected and declaring
        # before the fix: a 404 "no queue" from the broker, classed as misconfigured
        assert await asyncio.wait_for(queue.fetch(1), 10) == []
        await opening
        assert foreign.count(name) == 0  # declared by then
    finally:
        await queue.close()
    foreign.delete(name)
