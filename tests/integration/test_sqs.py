"""SQS queue against moto's server (Source/Sink/Delivery API, in process).

moto differs from real SQS in ways these tests avoid relying on: it keeps state in
memory only, and it accepts receipt handles from earlier receives (real SQS rejects a
stale handle once the message was received again), so a test never asserts that an
old handle fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from django_onestep.connectors.sqs import SQSConnector, SQSQueue
from django_onestep.core.base import Sink
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError, ConnectorErrorKind, ConnectorOperationError
from tests.needs import require_module

require_module("boto3")

DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(autouse=True)
def _dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in DUMMY_AWS.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def connector(sqs_endpoint: str) -> SQSConnector:
    return SQSConnector(region_name="us-east-1", endpoint_url=sqs_endpoint)


async def make_queue(connector: SQSConnector, *, fifo: bool = False, **attributes: str) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoQueue"] = "true"
    response = await connector.call("create_queue", QueueName=name, Attributes=attributes)
    return str(response["QueueUrl"])


async def counts(connector: SQSConnector, url: str) -> tuple[int, int]:
    attrs = await connector.call(
        "get_queue_attributes",
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    a = attrs["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


async def fetch_n(queue: SQSQueue, n: int, timeout_s: float = 20.0) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} messages arrived"
        got += await queue.fetch(n - len(got))
    return got


@pytest.fixture
async def opened() -> AsyncIterator[list[SQSQueue]]:
    queues: list[SQSQueue] = []
    yield queues
    for queue in queues:
        await queue.close()


async def test_roundtrip_attempts_and_batched_delete(connector: SQSConnector, opened: list[SQSQueue]) -> None:
    url = await make_queue(connector)
    queue = connector.queue(url, wait_time_s=1, delete_batch_size=10, delete_flush_interval_s=0.2)
    opened.append(queue)
    await queue.send(Envelope(body={"n": 1}, meta={"k": "v"}, attempts=0))
    await queue.send_many([Envelope(body={"n": i}) for i in range(2, 7)])
    await queue.publish_many([{"n": i} for i in range(7, 13)])
    got = await fetch_n(queue, 12)
    assert sorted(d.payload["n"] for d in got) == list(range(1, 13))
    first = next(d for d in got if d.payload["n"] == 1)
    assert first.envelope.meta["k"] == "v" and first.envelope.attempts == 0
    assert first.envelope.meta["sqs"]["message_id"] == first.message_id
    for d in got:
        await d.ack()
    await queue.leases.flush()
    assert queue.leases.deleted_count == 12
    assert await counts(connector, url) == (0, 0)


async def test_aws_cli_send_message_is_processed(
    connector: SQSConnector, sqs_endpoint: str, opened: list[SQSQueue]
) -> None:
    url = await make_queue(connector)
    aws = Path(sys.executable).parent / "aws"
    env = {**os.environ, **DUMMY_AWS}
    await asyncio.to_thread(
        subprocess.run,
        [str(aws), "sqs", "send-message", "--endpoint-url", sqs_endpoint, "--queue-url", url,
         "--message-body", '{"order_id": 42}'],
        check=True, env=env, capture_output=True, timeout=60,
    )  # fmt: skip
    from django_onestep.core.runtime.app import OneStepApp

    queue = connector.queue(url, wait_time_s=1, delete_flush_interval_s=0.1)
    opened.append(queue)
    app = OneStepApp("h4b-awscli", shutdown_timeout_s=5)
    handled: list[tuple[Any, int]] = []
    done = asyncio.Event()

    @app.task(source=queue)
    async def record(ctx, payload):  # type: ignore[no-untyped-def]
        handled.append((payload, ctx.current.attempts))
        done.set()

    serving = asyncio.create_task(app.serve())
    try:
        await asyncio.wait_for(done.wait(), 30)
    finally:
        app.request_shutdown()
        await asyncio.wait_for(serving, 30)
    assert handled == [({"order_id": 42}, 0)]
    assert await counts(connector, url) == (0, 0)  # acked = deleted


async def test_retry_uses_visibility_and_attempts_follow_receive_count(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    url = await make_queue(connector)
    queue = connector.queue(url, wait_time_s=0, heartbeat_interval_s=0)
    opened.append(queue)
    await queue.publish({"job": 1})
    (delivery,) = await fetch_n(queue, 1)
    retried_at = time.monotonic()
    await delivery.retry(delay_s=2)
    assert await queue.fetch(1) == []  # invisible while the delay runs: no hot loop
    (again,) = await fetch_n(queue, 1)
    assert time.monotonic() - retried_at >= 1.9
    assert (again.payload, again.envelope.attempts) == ({"job": 1}, 1)
    await again.retry()  # delay 0: at once, attempts 2
    (third,) = await fetch_n(queue, 1)
    assert third.envelope.attempts == 2
    await third.ack()


async def test_heartbeat_keeps_a_long_handler_invisible(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    url = await make_queue(connector, VisibilityTimeout="2")
    worker = connector.queue(url, wait_time_s=0, heartbeat_interval_s=0.5, heartbeat_visibility_timeout=2)
    other = connector.queue(url, wait_time_s=0, heartbeat_interval_s=0)  # a competing consumer
    opened += [worker, other]
    await worker.publish({"slow": True})
    (delivery,) = await fetch_n(worker, 1)
    deadline = time.monotonic() + 5  # 2.5x the visibility timeout
    stolen = []
    while time.monotonic() < deadline:
        stolen += await other.fetch(10)
        await asyncio.sleep(0.2)
    assert stolen == []
    await delivery.ack()
    await worker.leases.flush()
    assert await counts(connector, url) == (0, 0)


async def test_without_heartbeat_the_message_comes_back(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    # Control for the test above: the same timing without a heartbeat redelivers.
    url = await make_queue(connector, VisibilityTimeout="1")
    worker = connector.queue(url, wait_time_s=0, heartbeat_interval_s=0)
    opened.append(worker)
    await worker.publish({"slow": True})
    (delivery,) = await fetch_n(worker, 1)
    (again,) = await fetch_n(worker, 1, timeout_s=10)
    assert again.payload == {"slow": True} and again.envelope.attempts == 1
    await again.ack()
    await delivery.ack()


async def test_partial_batch_delete_failure_keeps_the_good_deletes(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    url = await make_queue(connector)
    queue = connector.queue(url, wait_time_s=0, delete_flush_interval_s=60, delete_batch_size=10)
    opened.append(queue)
    await queue.send_many([Envelope(body=i) for i in range(3)])
    got = await fetch_n(queue, 3)
    await queue.leases.stage_delete("not-a-receipt-handle")
    for d in got:
        await d.ack()
    await queue.leases.flush()
    assert (queue.leases.deleted_count, queue.leases.dropped_deletes) == (3, 1)
    assert await counts(connector, url) == (0, 0)


async def test_close_during_a_delete_flush_still_deletes_every_acked_message(
    connector: SQSConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await make_queue(connector)
    queue = connector.queue(url, wait_time_s=0, delete_flush_interval_s=0.05, delete_batch_size=10)
    await queue.send_many([Envelope(body=i) for i in range(6)])
    got = await fetch_n(queue, 6)
    real_call = connector.call
    delete_sent = asyncio.Event()

    async def slow_delete(method: str, **params: Any) -> Any:
        if method == "delete_message_batch":
            delete_sent.set()
            await asyncio.sleep(0.3)  # a slow round trip, as on a loaded machine
        return await real_call(method, **params)

    monkeypatch.setattr(connector, "call", slow_delete)
    for d in got:
        await d.ack()
    await asyncio.wait_for(delete_sent.wait(), 5)  # the periodic flush holds the batch
    await queue.close()
    monkeypatch.setattr(connector, "call", real_call)
    assert await counts(connector, url) == (0, 0)


async def test_fifo_group_from_the_payload_keeps_order_per_group(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    url = await make_queue(connector, fifo=True, ContentBasedDeduplication="false")
    queue = connector.queue(
        url,
        wait_time_s=0,
        message_group_field="customer",
        deduplication_id_factory=lambda env: f"{env.body['customer']}-{env.body['seq']}",
    )
    opened.append(queue)
    for seq in range(6):
        for customer in ("a", "b"):
            await queue.publish({"customer": customer, "seq": seq})
    await queue.publish({"customer": "a", "seq": 0})  # same dedupe id: dropped by SQS
    seen: dict[str, list[int]] = {"a": [], "b": []}
    deadline = time.monotonic() + 20
    while sum(map(len, seen.values())) < 12:
        assert time.monotonic() < deadline, seen
        for d in await queue.fetch(10):
            group = d.envelope.meta["sqs"]["attributes"]["MessageGroupId"]
            assert group == d.payload["customer"]
            seen[group].append(d.payload["seq"])
            await d.ack()
        await queue.leases.flush()
    assert seen == {"a": list(range(6)), "b": list(range(6))}
    assert await queue.fetch(10) == []


async def test_fifo_send_without_a_group_id_names_the_setting(connector: SQSConnector) -> None:
    url = await make_queue(connector, fifo=True, ContentBasedDeduplication="true")
    with pytest.raises(ConfigurationError, match="message_group_id"):
        await connector.queue(url).send(Envelope(body=1))
    with pytest.raises(ConfigurationError, match="'customer'"):
        await connector.queue(url, message_group_field="customer").send(Envelope(body={"x": 1}))


async def test_poison_body_and_fail_to_dead_letter_deletes(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    url = await make_queue(connector)
    queue = connector.queue(url, wait_time_s=0, delete_flush_interval_s=0.1)
    opened.append(queue)
    await connector.call("send_message", QueueUrl=url, MessageBody="not json at all")
    (delivery,) = await fetch_n(queue, 1)
    assert delivery.poison_reason is not None and "JSON" in delivery.poison_reason

    class Collect(Sink):
        def __init__(self) -> None:
            super().__init__("collect")
            self.sent: list[Envelope] = []

        async def send(self, envelope: Envelope) -> None:
            self.sent.append(envelope)

    dead = Collect()
    assert await delivery.fail_to_dead_letter(dead, Envelope(body={"payload": delivery.payload})) is True
    await queue.leases.flush()
    assert [e.body for e in dead.sent] == [{"payload": "not json at all"}]
    assert await counts(connector, url) == (0, 0)


async def test_missing_queue_is_misconfigured(connector: SQSConnector, sqs_endpoint: str) -> None:
    queue = connector.queue(f"{sqs_endpoint}/123456789012/does-not-exist-{uuid.uuid4().hex[:6]}")
    with pytest.raises(ConnectorOperationError) as info:
        await queue.open()
    assert info.value.kind is ConnectorErrorKind.MISCONFIGURED


async def test_unreachable_endpoint_is_retryable_and_hides_secrets() -> None:
    connector = SQSConnector(
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        options={"aws_access_key_id": "AKIDSECRET1", "aws_secret_access_key": "topsecretvalue"},
    )
    queue = connector.queue("http://127.0.0.1:1/123456789012/q")
    await queue.open()  # an endpoint down at startup does not stop the worker (as with RabbitMQ)
    assert queue.is_open
    delays = []
    for _ in range(3):  # fetch opens again; failures back off, counting the one at startup
        with pytest.raises(ConnectorOperationError) as info:
            await queue.fetch(1)
        assert info.value.kind is ConnectorErrorKind.DISCONNECTED and info.value.retryable
        text = f"{info.value} {info.value.cause!r}"
        assert "topsecretvalue" not in text and "AKIDSECRET1" not in text
        delays.append(info.value.retry_delay_s)
    assert delays == [2.0, 4.0, 8.0]
    for _ in range(2):  # the receives themselves back off the same way, capped at 30 s
        with pytest.raises(ConnectorOperationError) as info:
            await queue._receive(1, 0)
        delays.append(info.value.retry_delay_s)
    assert delays[3:] == [16.0, 30.0]
    await queue.close()


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"batch_size": 11}, "batch_size"),
        ({"wait_time_s": 21}, "wait_time_s"),
        ({"delete_batch_size": 0}, "delete_batch_size"),
        ({"on_fail": "drop"}, "on_fail"),
        ({"heartbeat_interval_s": 30, "heartbeat_visibility_timeout": 10}, "heartbeat_interval_s"),
        ({"message_group_id": 5}, "message_group_id"),
        ({"message_group_field": 5}, "message_group_field must be a payload key"),
        ({"deduplication_id_factory": "order_id"}, "deduplication_id_factory must be a callable"),
        ({"heartbeat_interval_s": True}, "heartbeat_interval_s: must be a number, got True"),
    ],
)
def test_bad_settings_name_the_key(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        SQSConnector().queue("https://sqs.us-east-1.amazonaws.com/1/q", **kwargs)
    with pytest.raises(ConfigurationError, match="url"):
        SQSConnector().queue("jobs")


def test_bad_connector_settings_name_the_key() -> None:
    # a misspelt key is caught at construction, before boto3 is even imported
    with pytest.raises(ConfigurationError) as info:
        SQSConnector(region_name="us-east-1", options={"aws_secret_acess_key": "s3cr3t"})
    assert str(info.value).startswith("SQSConnector options: unknown key(s) ['aws_secret_acess_key']")
    assert "s3cr3t" not in str(info.value)
    with pytest.raises(ConfigurationError, match="region_name must be a non-empty string, got 5"):
        SQSConnector(region_name=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="SQSConnector options: must be a mapping, got list"):
        SQSConnector(options=[("use_ssl", False)])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_threads"):
        SQSConnector(max_threads=1)


def test_wire_format_is_onestep_json() -> None:
    queue = SQSConnector().queue("https://sqs.us-east-1.amazonaws.com/1/q.fifo", message_group_id="g")
    params = queue._send_params(Envelope(body={"a": 1}, meta={"m": 2}, attempts=3))
    assert params["MessageGroupId"] == "g"
    assert json.loads(params["MessageBody"]) == {"body": {"a": 1}, "meta": {"m": 2}, "attempts": 3}


async def test_failing_message_is_dead_lettered_after_max_attempts_and_deleted(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    from django_onestep.core.retry import MaxAttempts
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.memory import MemoryQueue

    url = await make_queue(connector)
    source = connector.queue(url, wait_time_s=1, delete_flush_interval_s=0.1)
    opened.append(source)
    dead = MemoryQueue("dead")
    app = OneStepApp("h4b-sqs-poison", shutdown_timeout_s=5)
    seen: list[int] = []

    @app.task(source=source, dead_letter=dead, retry=MaxAttempts(max_attempts=3, delay_s=1))
    async def always_fails(ctx, payload):  # type: ignore[no-untyped-def]
        seen.append(ctx.current.attempts)
        raise ValueError("no")

    await source.publish({"id": 9})
    serving = asyncio.create_task(app.serve())
    try:
        letters: list[Any] = []
        for _ in range(300):  # up to ~30 s
            letters += await dead.fetch(10)
            if letters:
                break
            await asyncio.sleep(0.1)
    finally:
        app.request_shutdown()
        await asyncio.wait_for(serving, 30)
    assert seen == [0, 1, 2]  # retries through visibility, attempts from the receive count
    assert [letter.payload["payload"] for letter in letters] == [{"id": 9}]
    assert letters[0].envelope.meta["original_attempts"] == 2
    assert await counts(connector, url) == (0, 0)  # deleted once dead-lettered, never runs again


def test_yaml_resource_types_build_queues() -> None:
    from django_onestep.core.declarative import registry as yaml_resources

    url = "https://sqs.us-east-1.amazonaws.com/1/jobs.fifo"
    spec = {
        "resources": {
            "aws": {"type": "sqs", "region_name": "us-east-1"},
            "jobs": {"type": "sqs_queue", "connector": "aws", "url": url, "message_group_field": "customer"},
        }
    }
    queue = yaml_resources.build_resources(spec)["jobs"]
    assert isinstance(queue, SQSQueue)
    assert (queue.url, queue.fifo, queue.message_group_field) == (url, True, "customer")
    spec["resources"]["jobs"]["batch_size"] = 50
    with pytest.raises(ConfigurationError, match=r"resources\.jobs: batch_size"):
        yaml_resources.build_resources(spec)


async def test_a_full_first_batch_is_topped_up_by_parallel_receives(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    url = await make_queue(connector)
    queue = connector.queue(url, wait_time_s=1, receive_batches=4, heartbeat_interval_s=0)
    single = connector.queue(url, wait_time_s=1, receive_batches=1, heartbeat_interval_s=0)
    opened += [queue, single]
    await queue.send_many([Envelope(body=i) for i in range(60)])
    got = await queue.fetch(40)  # one long poll returned 10, three more receives did not wait
    ids = [d.payload for d in got]
    # More than one receive's worth of distinct messages arrived. Not "no duplicates":
    # moto's server (and, rarely, a standard SQS queue) can hand one message to two
    # parallel receives; seen here about once in 80 runs with plain boto3 threads.
    assert 10 < len(set(ids)) and len(ids) <= 40
    assert len(await single.fetch(40)) <= 10  # onestep's behaviour: one receive per fetch
    assert len(await queue.fetch(5)) <= 5  # never more than the runner asked for


@pytest.mark.parametrize(
    ("on_fail", "expected"), [("leave", (0, 1)), ("release", (1, 0)), ("delete", (0, 0))]
)
async def test_on_fail_without_a_dead_letter_sink(
    connector: SQSConnector, opened: list[SQSQueue], on_fail: str, expected: tuple[int, int]
) -> None:
    url = await make_queue(connector, VisibilityTimeout="60")
    queue = connector.queue(url, wait_time_s=0, on_fail=on_fail, heartbeat_interval_s=0)
    opened.append(queue)
    await queue.publish({"x": 1})
    (delivery,) = await fetch_n(queue, 1)
    await delivery.fail(RuntimeError("boom"))
    await queue.leases.flush()
    assert await counts(connector, url) == expected  # (visible, in flight)


async def test_concurrent_opens_start_one_flusher_and_heartbeat(
    connector: SQSConnector, opened: list[SQSQueue]
) -> None:
    url = await make_queue(connector)
    queue = connector.queue(url, wait_time_s=0)
    opened.append(queue)
    before = {t for t in asyncio.all_tasks() if t.get_name().startswith("sqs-")}
    await asyncio.gather(*(queue.open() for _ in range(5)))
    started = {t for t in asyncio.all_tasks() if t.get_name().startswith("sqs-")} - before
    assert sorted(t.get_name().split()[0] for t in started) == ["sqs-deletes", "sqs-heartbeat"]
