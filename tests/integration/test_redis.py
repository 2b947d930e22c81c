"""Redis Streams connector against the real Redis server (shared instance, unique streams)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from django_onestep.connectors.redis import RedisConnector, RedisStream
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import (
    ConfigurationError,
    ConnectorErrorKind,
    ConnectorOperationError,
    MissingExtraError,
)
from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from tests.needs import require_module

require_module("redis")


def redis_cli(url: str, *args: str) -> str:
    """The real foreign client, as another application would use it."""
    done = subprocess.run(
        ["redis-cli", "-u", url, *args], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.strip()


def unique(prefix: str = "h4a") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def connector(redis_url: str) -> AsyncIterator[RedisConnector]:
    conn = RedisConnector(redis_url)
    yield conn
    await conn.close()


async def pending_count(stream: RedisStream) -> int:
    client = await stream.connector.acquire()
    try:
        return int((await client.xpending(stream.name, stream.group))["pending"])
    finally:
        await stream.connector.release()


async def run_until(app: OneStepApp, predicate: Any, timeout_s: float = 30.0) -> None:
    """Serve until ``predicate()`` holds (polling; generous deadline for a loaded machine)."""
    serving = asyncio.create_task(app.serve())
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not predicate():
            if serving.done():
                serving.result()
                raise AssertionError("serve() ended early")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("timed out waiting for the worker")
            await asyncio.sleep(0.02)
    finally:
        app.request_shutdown()
        await asyncio.wait_for(serving, 30)


async def test_redis_cli_entries_are_processed_and_malformed_ones_dead_lettered(redis_url: str) -> None:
    name = unique()
    # stream and group made by another application with redis-cli
    redis_cli(redis_url, "XGROUP", "CREATE", name, "workers", "$", "MKSTREAM")
    redis_cli(redis_url, "XADD", name, "*", "body", '{"id": 1}')
    redis_cli(redis_url, "XADD", name, "*", "body", "not json at all")
    redis_cli(redis_url, "XADD", name, "*", "order", "7")
    redis_cli(
        redis_url, "XADD", name, "*", "body", json.dumps({"body": {"id": 2}, "meta": {"m": 1}, "attempts": 0})
    )
    connector = RedisConnector(redis_url)
    source = connector.stream(name, group="workers", poll_interval_s=0.2)
    dead = MemoryQueue("dead")
    seen: list[Any] = []
    app = OneStepApp("h4a-cli")

    @app.task(source=source, dead_letter=dead, concurrency=4)
    async def handle(ctx: Any, payload: Any) -> None:
        seen.append((payload, ctx.current.meta))

    await run_until(app, lambda: len(seen) == 2 and dead.size() == 2)
    assert sorted(seen, key=lambda row: row[0]["id"]) == [({"id": 1}, {}), ({"id": 2}, {"m": 1})]
    letters = dead.drain_nowait()
    failures = sorted(letter.body["failure"]["message"] for letter in letters)
    assert failures == [
        "entry 'body' is undecodable: message is not JSON (Expecting value): 'not json at all'",
        "entry has no 'body' field (fields: ['order'])",
    ]
    assert {letter.body["failure"]["exception_type"] for letter in letters} == {"PoisonMessageError"}
    payloads = sorted(json.dumps(letter.body["payload"]) for letter in letters)
    assert payloads == ['"not json at all"', '{"order": "7"}']
    # everything settled: nothing left pending in the group
    assert redis_cli(redis_url, "XPENDING", name, "workers").splitlines()[0] == "0"
    await connector.close()


async def test_attempts_count_and_delayed_retry_does_not_hold_the_slot(connector: RedisConnector) -> None:
    source = connector.stream(unique(), start_id="0", poll_interval_s=0.2)
    await source.publish({"id": "flaky"})
    await source.publish({"id": "steady"})
    calls: list[tuple[str, int]] = []
    app = OneStepApp("h4a-retry")

    @app.task(source=source, concurrency=1, retry=MaxAttempts(max_attempts=3, delay_s=0.5))
    async def handle(ctx: Any, payload: Any) -> None:
        calls.append((payload["id"], ctx.current.attempts))
        if payload["id"] == "flaky" and ctx.current.attempts < 2:
            raise RuntimeError("not yet")

    await run_until(app, lambda: len(calls) == 4)
    # concurrency 1: "steady" ran while "flaky" waited for its delayed retry
    assert calls == [("flaky", 0), ("steady", 0), ("flaky", 1), ("flaky", 2)]
    assert await pending_count(source) == 0
    client = await connector.acquire()
    assert await client.zcard(source.delayed_key) == 0
    await connector.release()
    await source.close()


async def test_max_attempts_ends_in_dead_letter_once(connector: RedisConnector) -> None:
    source = connector.stream(unique(), start_id="0", poll_interval_s=0.2)
    dead = connector.stream(f"{source.name}.dead", start_id="0")
    await source.publish({"id": 9}, meta={"trace": "t"})
    attempts: list[int] = []
    app = OneStepApp("h4a-dlq")

    @app.task(source=source, dead_letter=dead, retry=MaxAttempts(max_attempts=3, delay_s=0.05))
    async def handle(ctx: Any, payload: Any) -> None:
        attempts.append(ctx.current.attempts)
        raise ValueError("boom")

    await run_until(app, lambda: len(attempts) == 3)
    await asyncio.sleep(0.3)
    assert attempts == [0, 1, 2]
    letters = await dead.fetch(10)
    assert len(letters) == 1
    letter = letters[0].envelope
    assert letter.body["payload"] == {"id": 9}
    assert letter.body["failure"]["message"] == "boom"
    assert letter.meta["original_attempts"] == 2
    assert letter.meta["original_meta"] == {"trace": "t"}
    assert await pending_count(source) == 0
    await letters[0].ack()
    await dead.close()


async def test_a_dead_consumers_entries_are_claimed_after_claim_idle_s(connector: RedisConnector) -> None:
    name = unique()
    first = connector.stream(name, consumer="a", start_id="0", claim_idle_s=0.5, poll_interval_s=0.1)
    await first.publish({"n": 1})
    taken = await first.fetch(10)
    assert [d.payload for d in taken] == [{"n": 1}]
    await first.close()  # "dies": no ack, no more heartbeats

    second = connector.stream(name, consumer="b", start_id="0", claim_idle_s=0.5, poll_interval_s=0.1)
    got: list[Any] = []
    for _ in range(50):
        got = await second.fetch(10)
        if got:
            break
    assert [(d.payload, d.envelope.attempts, d.delivery_count) for d in got] == [({"n": 1}, 1, 2)]
    await got[0].ack()
    assert await pending_count(second) == 0
    await second.close()


async def test_heartbeat_keeps_a_slow_entry_from_being_claimed(connector: RedisConnector) -> None:
    name = unique()
    # heartbeat every 0.4 s, lease 1.2 s: a loaded machine has slack before a false claim
    slow = connector.stream(name, consumer="slow", start_id="0", claim_idle_s=1.2, poll_interval_s=0.1)
    other = connector.stream(name, consumer="other", start_id="0", claim_idle_s=1.2, poll_interval_s=0.1)
    await slow.publish({"n": 1})
    held = await slow.fetch(10)
    assert len(held) == 1
    stolen: list[Any] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + 3.0  # two and a half leases
    while loop.time() < end:
        stolen.extend(await other.fetch(10))
    assert stolen == []
    client = await connector.acquire()
    rows = await client.xpending_range(name, "onestep", min="-", max="+", count=10)
    await connector.release()
    # still ours, and the heartbeats did not count as deliveries
    assert [(row["consumer"], row["times_delivered"]) for row in rows] == [(b"slow", 1)]
    await held[0].ack()
    assert await pending_count(slow) == 0
    await slow.close()
    await other.close()


async def test_restarted_consumer_takes_its_own_entries_back_at_once(connector: RedisConnector) -> None:
    name = unique()
    before = connector.stream(name, consumer="pod-0", start_id="0", claim_idle_s=60, poll_interval_s=0.1)
    await before.publish({"n": 1})
    assert len(await before.fetch(10)) == 1
    await before.close()
    after = connector.stream(name, consumer="pod-0", start_id="0", claim_idle_s=60, poll_interval_s=0.1)
    got = await after.fetch(10)  # no 60 s wait: the previous "pod-0" is gone
    assert [(d.payload, d.envelope.attempts) for d in got] == [({"n": 1}, 1)]
    await got[0].ack()
    await after.close()


async def test_release_unstarted_gives_back_without_counting_an_attempt(connector: RedisConnector) -> None:
    stream = connector.stream(unique(), start_id="0", poll_interval_s=0.1)
    await stream.publish({"n": 1}, attempts=2)
    first = await stream.fetch(10)
    assert first[0].envelope.attempts == 2
    await first[0].release_unstarted()
    again = await stream.fetch(10)
    assert [(d.payload, d.envelope.attempts) for d in again] == [({"n": 1}, 2)]
    await again[0].ack()
    assert await pending_count(stream) == 0
    await stream.close()


async def test_entry_redelivered_too_often_is_poison(connector: RedisConnector) -> None:
    name = unique()
    for i in range(3):
        stream = connector.stream(name, consumer=f"c{i}", start_id="0", claim_idle_s=0.2, max_deliveries=2)
        if i == 0:
            await stream.publish({"n": 1})
        got: list[Any] = []
        for _ in range(50):
            got = await stream.fetch(10)
            if got:
                break
        assert [d.delivery_count for d in got] == [i + 1]
        await stream.close()  # crash again: no settle
    reason = got[0].poison_reason
    assert reason is not None and "delivered 3 times without being settled (max_deliveries=2)" in reason
    assert got[0].payload == {"n": 1}


async def test_maxlen_trims_the_stream(connector: RedisConnector) -> None:
    stream = connector.stream(unique(), maxlen=10, approximate_trim=False)
    for i in range(15):
        await stream.publish({"i": i})
    await stream.publish_many([{"i": i} for i in range(15, 30)])
    client = await connector.acquire()
    assert await client.xlen(stream.name) == 10
    last = await client.xrevrange(stream.name, count=1)
    assert json.loads(last[0][1][b"body"]) == {"body": {"i": 29}, "meta": {}, "attempts": 0}
    await connector.release()
    await stream.close()


async def test_send_writes_onestep_field_layout(connector: RedisConnector, redis_url: str) -> None:
    stream = connector.stream(unique())
    await stream.send(Envelope({"x": 1}, {"m": "v"}, 3))
    await stream.close()
    raw = redis_cli(redis_url, "XRANGE", stream.name, "-", "+").splitlines()
    assert raw[1:] == ["body", '{"body":{"x":1},"meta":{"m":"v"},"attempts":3}']


async def test_idle_consumers_with_nothing_pending_are_removed(
    connector: RedisConnector, redis_url: str
) -> None:
    name = unique()
    stream = connector.stream(name, consumer="live", start_id="0", claim_idle_s=0.1, consumer_gc_idle_s=0.3)
    await stream.ensure_group()
    redis_cli(redis_url, "XGROUP", "CREATECONSUMER", name, "onestep", "ghost")
    redis_cli(redis_url, "XADD", name, "*", "body", "1")
    redis_cli(redis_url, "XREADGROUP", "GROUP", "onestep", "holder", "COUNT", "1", "STREAMS", name, ">")
    await asyncio.sleep(0.5)
    assert await stream.collect_dead_consumers() == ["ghost"]  # "holder" still has a pending entry
    consumers = redis_cli(redis_url, "XINFO", "CONSUMERS", name, "onestep")
    assert "holder" in consumers and "ghost" not in consumers
    await stream.close()


async def test_unreachable_server_is_a_disconnected_error_without_the_password() -> None:
    from tests.servers import free_port

    connector = RedisConnector(f"redis://user:s3cr3t-pw@127.0.0.1:{free_port()}/0")
    stream = connector.stream(unique(), poll_interval_s=0.1, backoff_max_s=2.0)
    with pytest.raises(ConnectorOperationError) as info:
        await stream.fetch(1)
    assert info.value.kind is ConnectorErrorKind.DISCONNECTED
    assert info.value.retryable
    delays = [info.value.retry_delay_s or 0.0]
    for _ in range(7):
        with pytest.raises(ConnectorOperationError) as info:
            await stream.fetch(1)
        delays.append(info.value.retry_delay_s or 0.0)
    # capped exponential backoff: 50 ms doubling up to backoff_max_s, +-20 % jitter
    expected = [min(2.0, 0.05 * 2**i) for i in range(8)]
    assert all(0.8 * e <= d <= 1.2 * e for d, e in zip(delays, expected, strict=True)), delays
    assert "s3cr3t-pw" not in str(info.value)
    assert "s3cr3t-pw" not in repr(connector)
    await stream.close()


async def test_a_key_that_is_not_a_stream_is_misconfigured(connector: RedisConnector, redis_url: str) -> None:
    name = unique()
    redis_cli(redis_url, "SET", name, "x")
    stream = connector.stream(name)
    with pytest.raises(ConnectorOperationError) as info:
        await stream.fetch(1)
    assert info.value.kind is ConnectorErrorKind.MISCONFIGURED
    assert "WRONGTYPE" in str(info.value)
    await stream.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "redis stream batch_size: must be >= 1, got 0"),
        ({"poll_interval_s": "1"}, "redis stream poll_interval_s: must be a number, got '1'"),
        ({"group": ""}, "redis stream group: must be a non-empty string, got ''"),
        ({"maxlen": -5}, "redis stream maxlen: must be >= 1, got -5"),
        ({"maxlen": 1.5}, "redis stream maxlen: must be an integer or None, got 1.5"),
        (
            {"claim_idle_s": 1, "heartbeat_interval_s": 1},
            "heartbeat_interval_s: must be below claim_idle_s (1), got 1",
        ),
        ({"poll_interval_s": 40}, "must be shorter than the connector's socket_timeout (30.0s)"),
        # the server answered "Invalid stream ID" as a transient error, retried for ever
        ({"start_id": "abc"}, "start_id: must be '$', '0' or an entry id like '1700000000000-0', got 'abc'"),
    ],
)
def test_bad_arguments_name_the_key(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        RedisConnector("redis://localhost/0").stream("s", **kwargs)


def test_bad_url_is_rejected_without_echoing_the_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        RedisConnector("http://user:pw123@host/0")
    assert "pw123" not in str(info.value)
    assert "must start with redis://, rediss:// or unix://" in str(info.value)


async def test_a_misspelt_client_option_is_a_configuration_error_naming_it() -> None:
    # the server is never reached: the options are checked when the client is built
    stream = RedisConnector("redis://127.0.0.1:1/0", options={"pasword": "s3cr3t"}).stream("s")
    with pytest.raises(ConfigurationError) as info:
        await stream.fetch(1)
    message = str(info.value)  # the middle is redis-py's TypeError text
    assert message.startswith("redis options: not accepted by redis-py: ")
    assert message.endswith("unexpected keyword argument 'pasword'")
    await stream.close()


async def test_url_mistakes_are_configuration_errors_not_outages(redis_url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        RedisConnector("redis://:s3cr3t@localhost:notaport/0")
    assert str(info.value) == (
        "redis url 'redis://:***@localhost:notaport/0': Port could not be cast to integer value as 'notaport'"
    )
    # a bad query parameter: redis-py's ValueError surfaced raw from the first fetch
    stream = RedisConnector(f"{redis_url}?socket_timeout=abc").stream(unique())
    with pytest.raises(ConfigurationError, match="Invalid value for 'socket_timeout' in connection URL"):
        await stream.fetch(1)
    await stream.close()
    # a database the server does not have: was "transient", retried for ever
    stream = RedisConnector(redis_url.rsplit("/", 1)[0] + "/999").stream(unique())
    with pytest.raises(ConnectorOperationError) as error:
        await stream.fetch(1)
    assert error.value.kind is ConnectorErrorKind.MISCONFIGURED
    assert "DB index is out of range" in str(error.value)
    await stream.close()


async def test_missing_redis_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    stream = RedisConnector("redis://localhost/0").stream("s")
    with pytest.raises(MissingExtraError, match=r"pip install 'django-onestep\[redis\]'"):
        await stream.fetch(1)


@pytest.mark.parametrize("options", [{"protocol": 2}, {"protocol": 3}, {"decode_responses": True}])
async def test_client_protocols_and_a_deleted_stream(redis_url: str, options: dict[str, Any]) -> None:
    connector = RedisConnector(redis_url, options=options)
    stream = connector.stream(unique(), start_id="0", poll_interval_s=0.1)
    await stream.publish_many([{"n": 1}, {"n": 2}])
    first = await stream.fetch(10)
    assert [d.payload for d in first] == [{"n": 1}, {"n": 2}]
    await first[0].ack()
    await first[1].retry(delay_s=0.05)
    again: list[Any] = []
    for _ in range(20):
        again = await stream.fetch(10)
        if again:
            break
    assert [(d.payload, d.envelope.attempts) for d in again] == [({"n": 2}, 1)]
    await again[0].ack()
    # someone deletes the stream (and its group) while we run: transient, then recreated
    client = await connector.acquire()
    await client.delete(stream.name)
    await connector.release()
    with pytest.raises(ConnectorOperationError) as info:
        await stream.fetch(1)
    assert info.value.kind is ConnectorErrorKind.TRANSIENT
    await stream.publish({"n": 3})
    later: list[Any] = []
    for _ in range(20):
        later = await stream.fetch(10)
        if later:
            break
    assert [d.payload for d in later] == [{"n": 3}]
    await later[0].ack()
    await connector.close()


def test_yaml_resource_types_build_streams() -> None:
    from django_onestep.core.declarative.registry import build_resources

    built = build_resources(
        {
            "resources": {
                "redis": {"type": "redis", "url": "redis://:pw@localhost:6379/0"},
                "jobs": {
                    "type": "redis_stream",
                    "connector": "redis",
                    "stream": "jobs-stream",
                    "group": "workers",
                    "consumer": "pod-1",
                    "batch_size": 50,
                    "maxlen": 1000,
                    "claim_idle_s": 60,
                    "max_deliveries": None,
                },
            }
        }
    )
    jobs = built["jobs"]
    assert isinstance(jobs, RedisStream)
    assert (jobs.name, jobs.group, jobs.consumer, jobs.batch_size) == ("jobs-stream", "workers", "pod-1", 50)
    assert (jobs.options.maxlen, jobs.options.claim_idle_s, jobs.options.max_deliveries) == (1000, 60.0, None)
    assert repr(built["redis"]) == "RedisConnector('redis://:***@localhost:6379/0')"
    with pytest.raises(ConfigurationError, match=r"resources\.jobs: unknown key\(s\) prefetch"):
        build_resources(
            {
                "resources": {
                    "redis": {"type": "redis", "url": "redis://localhost/0"},
                    "jobs": {"type": "redis_stream", "connector": "redis", "prefetch": 5},
                }
            }
        )


def test_importing_the_connector_does_not_import_redis_py() -> None:
    code = (
        "import sys, django_onestep.connectors.redis as r\n"
        "r.RedisConnector('redis://localhost/0').stream('s')\n"
        "assert not any(m == 'redis' or m.startswith('redis.') for m in sys.modules), sorted(sys.modules)\n"
        "assert 'django' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_one_stream_object_used_from_successive_event_loops(redis_url: str) -> None:
    # e.g. sync Django code publishing through async_to_sync, one loop per call
    stream = RedisConnector(redis_url).stream(unique(), start_id="0", poll_interval_s=0.1)
    asyncio.run(stream.publish({"n": 1}))
    asyncio.run(stream.publish({"n": 2}))

    async def consume() -> list[Any]:
        got = await stream.fetch(10)
        for delivery in got:
            await delivery.ack()
        return [d.payload for d in got]

    assert asyncio.run(consume()) == [{"n": 1}, {"n": 2}]
    asyncio.run(stream.close())


async def test_concurrent_sends_are_batched_and_all_land(connector: RedisConnector) -> None:
    stream = connector.stream(unique(), start_id="0", poll_interval_s=0.1)
    await asyncio.gather(*(stream.publish({"n": i}) for i in range(200)))
    client = await connector.acquire()
    entries = await client.xrange(stream.name)
    await connector.release()
    assert sorted(json.loads(fields[b"body"])["body"]["n"] for _id, fields in entries) == list(range(200))
    await stream.close()


async def test_serve_until_idle_waits_for_delayed_retries(connector: RedisConnector) -> None:
    source = connector.stream(unique(), start_id="0", poll_interval_s=0.1)
    await source.publish({"n": 1})
    attempts: list[int] = []
    app = OneStepApp("h4a-once")

    @app.task(source=source, retry=MaxAttempts(max_attempts=2, delay_s=0.5))
    async def handle(ctx: Any, payload: Any) -> None:
        attempts.append(ctx.current.attempts)
        if ctx.current.attempts == 0:
            raise RuntimeError("first time fails")

    # --once semantics: the delayed retry counts as pending work, so serve() waits for it
    await asyncio.wait_for(app.serve(until_idle=True), 30)
    assert attempts == [0, 1]
    assert source.pending_count() == 0
    assert await pending_count(source) == 0
    await source.close()


class BrokenSink(MemoryQueue):
    """A dead-letter sink that is down while the first delivery tries to use it."""

    def __init__(self) -> None:
        super().__init__("broken-dead")
        self.refused = 0

    async def send(self, envelope: Envelope) -> None:
        if envelope.meta.get("original_attempts") == 0:
            self.refused += 1
            raise ConnectorOperationError(backend="test", operation="send", kind="disconnected")
        await super().send(envelope)


async def test_poison_entry_stays_pending_while_the_dead_letter_sink_is_down(
    connector: RedisConnector, redis_url: str
) -> None:
    name = unique()
    source = connector.stream(name, start_id="0", poll_interval_s=0.1, claim_idle_s=0.5)
    await source.ensure_group()
    redis_cli(redis_url, "XADD", name, "*", "body", "{broken")
    dead = BrokenSink()
    app = OneStepApp("h4a-dead-down")

    @app.task(source=source, dead_letter=dead)
    async def handle(ctx: Any, payload: Any) -> None:
        raise AssertionError("a poison entry must never reach the handler")

    await run_until(app, lambda: dead.size() == 1)
    letter = dead.drain_nowait()[0]
    assert letter.body["payload"] == "{broken"
    assert letter.body["failure"]["exception_type"] == "PoisonMessageError"
    assert dead.refused >= 1
    # dead-lettered on the second delivery, after being claimed again (not lost, not re-added)
    assert letter.meta["original_attempts"] == 1
    assert await pending_count(source) == 0
    await source.close()


async def test_dead_letters_in_a_redis_stream_can_be_replayed(connector: RedisConnector) -> None:
    # default start_id "$": entries added through the sink before any fetch still count
    source = connector.stream(unique(), poll_interval_s=0.1)
    dead = connector.stream(f"{source.name}.dead", poll_interval_s=0.1)
    await source.publish({"n": 1}, meta={"trace": "t"})
    calls: list[tuple[Any, int, dict[str, Any]]] = []
    app = OneStepApp("h4a-replay")
    broken = True

    @app.task(source=source, dead_letter=dead)
    async def handle(ctx: Any, payload: Any) -> None:
        calls.append((payload, ctx.current.attempts, dict(ctx.current.meta)))
        if broken:
            raise RuntimeError("bug")

    await run_until(app, lambda: len(calls) == 1)
    broken = False  # the bug is fixed; put the dead letter back on its source
    status = await app.replay_task_dead_letters("handle", limit=10)
    assert (status["replayed_count"], status["failed_count"], status["completion"]) == (1, 0, "complete")
    await run_until(app, lambda: len(calls) == 2)
    assert calls == [({"n": 1}, 0, {"trace": "t"}), ({"n": 1}, 0, {"trace": "t"})]
    assert await pending_count(source) == 0
    assert await pending_count(dead) == 0
    await source.close()
    await dead.close()


async def test_dead_letter_to_a_stream_on_the_same_server_is_atomic_and_written_once(
    connector: RedisConnector,
) -> None:
    name = unique()
    source = connector.stream(name, consumer="a", start_id="0", poll_interval_s=0.1, claim_idle_s=0.3)
    dead = connector.stream(f"{name}.dead", poll_interval_s=0.1)
    await source.publish({"n": 1})
    first = (await source.fetch(10))[0]
    # another worker claims the same entry meanwhile (the first one stalled past its lease)
    source._inflight.clear()  # simulate the stall: no heartbeat for this entry
    other = connector.stream(name, consumer="b", start_id="0", poll_interval_s=0.1, claim_idle_s=0.3)
    second: list[Any] = []
    for _ in range(50):
        second = await other.fetch(10)
        if second:
            break
    assert [d.entry_id for d in second] == [first.entry_id]
    letter = Envelope({"payload": {"n": 1}}, {"task": "t"}, 0)
    assert await second[0].fail_to_dead_letter(dead, letter) is True
    assert await first.fail_to_dead_letter(dead, letter) is True  # too late: XACK finds nothing
    assert await first.fail_to_dead_letter(dead, letter) is False  # already settled
    assert await first.fail_to_dead_letter(MemoryQueue("elsewhere"), letter) is False
    client = await connector.acquire()
    assert await client.xlen(dead.name) == 1  # written once
    await connector.release()
    assert await pending_count(source) == 0
    letters = await dead.fetch(10)  # the group was created before the letter: start_id "$" sees it
    assert [d.envelope for d in letters] == [letter]
    await letters[0].ack()
    for stream in (source, other, dead):
        await stream.close()


YAML_SEEN: list[Any] = []


async def yaml_handler(ctx: Any, payload: Any) -> None:
    YAML_SEEN.append(payload)


async def test_an_app_declared_like_the_yaml_docs_consumes_the_stream(redis_url: str) -> None:
    from django_onestep.core.declarative.loader import load_app_config

    name = unique()
    redis_cli(redis_url, "XADD", name, "*", "body", '{"job": 42}')
    app = load_app_config(
        {
            "app": {"name": "h4a-yaml"},
            "resources": {
                "redis": {"type": "redis", "url": redis_url},
                "jobs": {
                    "type": "redis_stream",
                    "connector": "redis",
                    "stream": name,
                    "group": "workers",
                    "start_id": "0",
                    "batch_size": 100,
                    "poll_interval_s": 0.2,
                    "claim_idle_s": 60,
                },
            },
            "tasks": [
                {"name": "process_job", "source": "jobs", "handler": {"ref": f"{__name__}:yaml_handler"}},
            ],
        }
    )
    YAML_SEEN.clear()
    await run_until(app, lambda: YAML_SEEN == [{"job": 42}])
    assert redis_cli(redis_url, "XPENDING", name, "workers").splitlines()[0] == "0"


async def test_heartbeat_lets_go_of_an_entry_another_consumer_took(
    connector: RedisConnector, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = unique()
    stream = connector.stream(name, consumer="a", start_id="0", claim_idle_s=0.6, poll_interval_s=0.1)
    await stream.publish({"n": 1})
    held = await stream.fetch(10)
    entry_id = held[0].entry_id
    redis_cli(redis_url, "XCLAIM", name, "onestep", "b", "0", entry_id, "JUSTID")  # taken over
    caplog.set_level("WARNING", logger="django_onestep.connectors.redis")
    for _ in range(200):  # a few heartbeat intervals, generously
        if entry_id not in stream._inflight:
            break
        await asyncio.sleep(0.05)
    assert entry_id not in stream._inflight  # no more heartbeats for it, and never stolen back
    owner = redis_cli(redis_url, "XPENDING", name, "onestep", "-", "+", "10").splitlines()[1]
    assert owner == "b"
    assert f"entry {entry_id} was claimed by another consumer" in caplog.text
    await stream.close()
