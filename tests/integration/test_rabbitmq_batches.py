"""Batch handlers on a RabbitMQ queue, and the prefetch that bounds a batch."""

from __future__ import annotations

import uuid

import pytest

from django_onestep import ConfigurationError, OneStepApp
from django_onestep.connectors.rabbitmq import RabbitMQConnector
from tests.integration.batch_checks import run_batches
from tests.needs import require_module

pika = require_module("pika")


async def test_batches_on_a_queue_leave_nothing_on_the_broker(amqp_url: str) -> None:
    name = f"batches-{uuid.uuid4().hex[:10]}"
    queue = RabbitMQConnector(amqp_url).queue(name, poll_interval_s=0.1, prefetch=20)
    try:
        await run_batches(queue)
    finally:
        await queue.close()
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = conn.channel()
        # unacked messages go back to "ready" when the consumer closes: 0 means all settled
        assert channel.queue_declare(name, passive=True).method.message_count == 0
        channel.queue_delete(name)
    finally:
        conn.close()


def test_a_batch_larger_than_the_prefetch_is_refused(amqp_url: str) -> None:
    app = OneStepApp("batches")
    queue = RabbitMQConnector(amqp_url).queue("never-opened", prefetch=50)
    with pytest.raises(ConfigurationError, match=r"\(prefetch=50\); set prefetch to at least 100"):

        @app.task(source=queue, batch_size=100)
        async def work(ctx, payloads): ...  # type: ignore[no-untyped-def]
