"""RabbitMQ publishes are mandatory: a message no binding routes fails its send, it is not lost.

Against the shared real broker. Without ``mandatory`` the broker confirms an unroutable
message and drops it, so every send here "succeeded" while nothing arrived anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from django_onestep.connectors.rabbitmq import RabbitMQConnector
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import (
    ConfigurationError,
    ConnectorErrorKind,
    ConnectorOperation,
    ConnectorOperationError,
)
from django_onestep.core.retry import NoRetry
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from tests.integration.test_rabbitmq import Foreign, fetch_n, foreign, unique
from tests.needs import require_module

pika = require_module("pika")

__all__ = ["foreign"]  # re-exported so pytest finds the fixture of test_rabbitmq here


def unroutable_message(exchange: str, routing_key: str) -> str:
    return (
        f"RabbitMQ returned the message unroutable: exchange {exchange!r}, routing key {routing_key!r}: "
        "bind a queue to it or pass mandatory=False"
    )


async def test_an_unroutable_send_raises_naming_exchange_and_routing_key(
    amqp_url: str, foreign: Foreign
) -> None:
    exchange = unique("nobody.events")
    # The sink declares the exchange (and its own queue, unbound): no binding matches.
    sink = RabbitMQConnector(amqp_url).queue(
        unique("unbound"), exchange=exchange, exchange_type="topic", routing_key="order.created", bind=False
    )
    try:
        with pytest.raises(ConnectorOperationError) as info:
            await asyncio.wait_for(sink.send(Envelope(body={"order": 1})), 10)
        assert str(info.value) == unroutable_message(exchange, "order.created")
        assert (info.value.kind, info.value.operation) == (
            ConnectorErrorKind.MISCONFIGURED,
            ConnectorOperation.SEND,
        )
        assert not info.value.retryable  # the runner reports it instead of retrying for ever
        # a batch with unroutable messages raises too, and the channel stays usable
        with pytest.raises(ConnectorOperationError, match=r"routing key 'order\.created'"):
            await asyncio.wait_for(sink.publish_many([1, 2, 3]), 10)
        with pytest.raises(ConnectorOperationError, match=r"routing key 'order\.created'"):
            await asyncio.wait_for(sink.publish({"again": True}), 10)
    finally:
        await sink.close()
    assert foreign.count(sink.name) == 0
    foreign.delete(sink.name)
    foreign.ch.exchange_delete(exchange)


async def test_routable_sends_are_published_mandatory_and_arrive(
    amqp_url: str, foreign: Foreign, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags: list[bool] = []
    publish = pika.channel.Channel.basic_publish

    def recording(self: Any, *args: Any, **kwargs: Any) -> None:
        flags.append(kwargs.get("mandatory", False))
        publish(self, *args, **kwargs)

    monkeypatch.setattr(pika.channel.Channel, "basic_publish", recording)
    name, exchange = unique("routed"), unique("routed.events")
    connector = RabbitMQConnector(amqp_url)
    source = connector.queue(name, exchange=exchange, routing_key="order.created", poll_interval_s=0.2)
    sink = connector.queue(unique("routed-out"), exchange=exchange, routing_key="order.created", bind=False)
    try:
        await source.open()
        await sink.send(Envelope(body={"order": 1}))
        await sink.send_many([Envelope(body={"order": 2}), Envelope(body={"order": 3})])
        got = await fetch_n(source, 3)
        assert [d.payload for d in got] == [{"order": 1}, {"order": 2}, {"order": 3}]
        await got[0].retry()  # the retry copy is published mandatory as well
        (again,) = await fetch_n(source, 1)
        assert (again.payload, again.envelope.attempts) == ({"order": 1}, 1)
        for delivery in [again, *got[1:]]:
            await delivery.ack()
    finally:
        await source.close()
        await sink.close()
    assert flags == [True] * 4
    assert foreign.count(name) == 0
    foreign.delete(name, sink.name)
    foreign.ch.exchange_delete(exchange)


async def test_mandatory_false_lets_the_broker_drop_unroutable_messages(
    amqp_url: str, foreign: Foreign, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = unique("fire.and.forget")
    sink = RabbitMQConnector(amqp_url).queue(
        unique("optout"), exchange=exchange, routing_key="nobody", bind=False, mandatory=False
    )
    try:
        with caplog.at_level(logging.ERROR, logger="django_onestep"):
            await asyncio.wait_for(sink.send(Envelope(body={"dropped": True})), 10)
            await asyncio.wait_for(sink.publish_many([1, 2]), 10)
            await asyncio.sleep(0.3)  # a return, if any, would have arrived by now
    finally:
        await sink.close()
    assert sink.mandatory is False
    assert caplog.records == []
    assert foreign.count(sink.name) == 0
    foreign.delete(sink.name)
    foreign.ch.exchange_delete(exchange)


def test_yaml_rabbitmq_queue_takes_mandatory() -> None:
    from django_onestep.core.declarative.registry import build_resources

    spec: dict[str, Any] = {
        "resources": {
            "rmq": {"type": "rabbitmq", "url": "amqp://localhost/"},
            "events": {"type": "rabbitmq_queue", "connector": "rmq", "exchange": "ev", "mandatory": False},
            "jobs": {"type": "rabbitmq_queue", "connector": "rmq"},
        }
    }
    built = build_resources(spec)
    assert (built["events"].mandatory, built["jobs"].mandatory) == (False, True)
    spec["resources"]["events"]["mandatory"] = "no"
    with pytest.raises(ConfigurationError, match="mandatory must be True or False, got 'no'"):
        build_resources(spec)


async def test_without_publisher_confirms_a_returned_message_is_logged(
    amqp_url: str, foreign: Foreign, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = unique("noconfirm")
    sink = RabbitMQConnector(amqp_url).queue(
        unique("noconfirm"), exchange=exchange, routing_key="lost", bind=False, publisher_confirms=False
    )
    logged = asyncio.Event()

    class Signal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.set()

    signal = Signal(logging.ERROR)
    logging.getLogger("django_onestep").addHandler(signal)
    try:
        with caplog.at_level(logging.ERROR, logger="django_onestep"):
            await sink.send(Envelope(body=1))  # nothing waits for the broker's answer
            await asyncio.wait_for(logged.wait(), 10)
    finally:
        logging.getLogger("django_onestep").removeHandler(signal)
        await sink.close()
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert f"exchange '{exchange}', routing key 'lost'" in record.getMessage()
    foreign.delete(sink.name)
    foreign.ch.exchange_delete(exchange)


async def test_a_retry_copy_to_a_deleted_retry_queue_fails_loudly_and_keeps_the_original(
    amqp_url: str, foreign: Foreign, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique("retrygone")
    retry_queue = f"{name}.retry.300"
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.1)
    try:
        await queue.publish({"job": 1})
        (first,) = await fetch_n(queue, 1)
        await first.retry(delay_s=0.3)  # declares the retry queue and parks a copy there
        (second,) = await fetch_n(queue, 1)
        assert second.envelope.attempts == 1
        foreign.delete(retry_queue)  # deleted under the worker, which still thinks it exists
        with caplog.at_level(logging.ERROR, logger="django_onestep"):
            await second.retry(delay_s=0.3)
        (record,) = caplog.records
        assert f"exchange '', routing key '{retry_queue}'" in record.getMessage()
        # not acked: the broker hands the same message back, its attempt not counted
        (third,) = await fetch_n(queue, 1, timeout_s=5)
        assert (third.payload, third.envelope.attempts, third.redelivered) == ({"job": 1}, 1, True)
        await third.retry(delay_s=0.3)  # the retry queue is declared again, and used
        (fourth,) = await fetch_n(queue, 1)
        assert (fourth.payload, fourth.envelope.attempts) == ({"job": 1}, 2)
        await fourth.ack()
    finally:
        await queue.close()
    assert foreign.count(name) == 0
    foreign.delete(name, retry_queue)


async def test_concurrent_publishes_each_get_their_own_outcome(amqp_url: str, foreign: Foreign) -> None:
    name = unique("mixed")
    queue = RabbitMQConnector(amqp_url).queue(name, publish_timeout_s=10)
    nowhere = [unique("nowhere"), unique("nowhere")]
    # Same body and message id on every publish: only the routing key tells them apart.
    properties = queue._properties(headers={})
    routing_keys = [name if i % 3 == 0 else nowhere[i % 2] for i in range(60)]
    try:
        await queue.open()
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(
                    queue.session.publish("", key, b'{"same": 1}', properties, ConnectorOperation.SEND)
                    for key in routing_keys
                ),
                return_exceptions=True,
            ),
            20,
        )
    finally:
        await queue.close()
    for key, outcome in zip(routing_keys, outcomes, strict=True):
        if key == name:
            assert outcome is None
        else:
            assert isinstance(outcome, ConnectorOperationError), (key, outcome)
            assert str(outcome) == unroutable_message("", key)
    assert foreign.count(name) == 20  # every routable publish stored, no other one
    foreign.delete(name)


async def test_an_emit_to_an_unroutable_sink_fails_the_task(amqp_url: str, foreign: Foreign) -> None:
    exchange = unique("emit.nowhere")
    sink = RabbitMQConnector(amqp_url).queue(
        unique("emit-out"), exchange=exchange, routing_key="done", bind=False
    )
    source, dead = MemoryQueue("in"), MemoryQueue("dead")
    app = OneStepApp("mandatory-emit")

    @app.task(source=source, emit=sink, dead_letter=dead, retry=NoRetry())
    async def forward(ctx: Any, payload: Any) -> Any:
        return payload

    await source.publish({"n": 1})
    try:
        await asyncio.wait_for(app.serve(until_idle=True), 30)
    finally:
        await sink.close()
    (letter,) = await dead.fetch(10)  # not reported as a success whose output vanished
    assert letter.payload["payload"] == {"n": 1}
    assert f"exchange '{exchange}', routing key 'done'" in letter.payload["failure"]["message"]
    foreign.delete(sink.name)
    foreign.ch.exchange_delete(exchange)


async def test_a_dead_letter_to_an_unroutable_sink_keeps_the_original(
    amqp_url: str, foreign: Foreign
) -> None:
    name, exchange = unique("dl-src"), unique("dl.nowhere")
    connector = RabbitMQConnector(amqp_url)
    queue = connector.queue(name, poll_interval_s=0.1)
    dead = connector.queue(unique("dl-out"), exchange=exchange, routing_key="dead", bind=False)
    app = OneStepApp("mandatory-dead-letter")
    runs = 0

    @app.task(source=queue, dead_letter=dead, retry=NoRetry())
    async def always_fails(ctx: Any, payload: Any) -> None:
        nonlocal runs
        runs += 1
        if runs >= 2:
            app.request_shutdown()
        raise RuntimeError("boom")

    try:
        await queue.publish({"job": 1})
        await asyncio.wait_for(app.serve(), 15)
    finally:
        await queue.close()
        await dead.close()
    # The dead letter could not be stored, so the message ran again instead of vanishing.
    assert runs >= 2
    assert foreign.count(name) >= 1
    foreign.delete(name, dead.name)
    foreign.ch.exchange_delete(exchange)
