"""One queue on each real broker, for the tests of enqueueing from Django code.

``broker_queue(kind, name)`` declares a fresh queue on Redis, RabbitMQ or SQS (moto)
from the URLs ``tests.servers`` exports; ``read_all`` drains it with a separate
consumer (its own connection) and acks what it read.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

from django_onestep.core.envelope import Envelope

KINDS = ("redis", "rabbitmq", "sqs")
_ENV = {
    "redis": "ONESTEP_TEST_REDIS_URL",
    "rabbitmq": "ONESTEP_TEST_AMQP_URL",
    "sqs": "ONESTEP_TEST_SQS_ENDPOINT",
}
_MODULE = {"redis": "redis", "rabbitmq": "pika", "sqs": "boto3"}


def server_env(kind: str) -> str:
    return _ENV[kind]


def client_module(kind: str) -> str:
    return _MODULE[kind]


def aws_env() -> None:
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(key, value)


def new_queue_name(kind: str) -> str:
    """A fresh queue; for SQS its URL (created on moto)."""
    name = f"enq-{uuid.uuid4().hex[:10]}"
    if kind != "sqs":
        return name
    import boto3

    aws_env()
    client = boto3.client("sqs", region_name="us-east-1", endpoint_url=os.environ[_ENV["sqs"]])
    return str(client.create_queue(QueueName=name)["QueueUrl"])


def broker_queue(kind: str, name: str) -> Any:
    """The queue ``name`` (an SQS URL for SQS) on the test server of ``kind``."""
    url = os.environ[_ENV[kind]]
    if kind == "redis":
        from django_onestep.connectors.redis import RedisConnector

        return RedisConnector(url).stream(name, group="readers", start_id="0", poll_interval_s=0.2)
    if kind == "rabbitmq":
        from django_onestep.connectors.rabbitmq import RabbitMQConnector

        return RabbitMQConnector(url).queue(name, poll_interval_s=0.2)
    from django_onestep.connectors.sqs import SQSConnector

    aws_env()
    return SQSConnector(region_name="us-east-1", endpoint_url=url).queue(name, wait_time_s=0)


async def _read(queue: Any, count: int | None, timeout_s: float, quiet_s: float) -> list[Envelope]:
    got: list[Envelope] = []
    deadline = time.monotonic() + timeout_s
    last_new = time.monotonic()
    try:
        while time.monotonic() < deadline:
            deliveries = await queue.fetch(100)
            for delivery in deliveries:
                got.append(delivery.envelope)
                await delivery.ack()
            if deliveries:
                last_new = time.monotonic()
            if count is not None and len(got) >= count:
                break
            if count is None and time.monotonic() - last_new >= quiet_s:
                break
            if not deliveries:
                await asyncio.sleep(0.05)
    finally:
        await queue.close()
        connector = getattr(queue, "connector", None)
        if kind_of(queue) == "redis" and connector is not None:
            await connector.close()
    return got


def kind_of(queue: Any) -> str:
    return type(queue).__module__.split(".")[2]


def read_all(
    kind: str, name: str, *, count: int | None = None, timeout_s: float = 20.0, quiet_s: float = 1.0
) -> list[Envelope]:
    """Drain ``name`` with a new consumer: until ``count`` messages, or ``quiet_s`` without one."""
    return asyncio.run(_read(broker_queue(kind, name), count, timeout_s, quiet_s))
