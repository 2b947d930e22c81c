"""Partitioned streams against the real Redis, in one process: exception policies and fencing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from django_onestep.connectors.redis import (
    PartitionedStream,
    RedisConnector,
    halted_partitions,
    quarantined_partitions,
)
from django_onestep.connectors.redis.partition_leases import PartitionLeases
from django_onestep.core.errors import ConnectorOperationError
from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from tests.needs import require_module

require_module("redis")

PARTITIONS = 4
KEYS = [f"key-{i}" for i in range(12)]
POISON = "key-0"


def stream(connector: RedisConnector, name: str, **options: Any) -> PartitionedStream:
    return connector.partitioned_stream(
        name, partitions=PARTITIONS, key=lambda payload: payload["key"], poll_interval_s=0.05, **options
    )


async def publish(connector: RedisConnector, name: str) -> None:
    # three events per key; the poison key's first one always raises
    sink = stream(connector, name)
    await sink.publish_many({"key": key, "seq": seq} for seq in (1, 2, 3) for key in KEYS)


async def run(app: OneStepApp, until: Callable[[], bool], timeout_s: float = 15.0) -> None:
    serving = asyncio.create_task(app.serve())
    try:
        async with asyncio.timeout(timeout_s):
            while not until():
                assert not serving.done(), serving.result()
                await asyncio.sleep(0.02)
    finally:
        app.request_shutdown()
        await asyncio.wait_for(serving, 30)


def policy_app(source: PartitionedStream, handled: list[tuple[str, int]], dead: MemoryQueue) -> OneStepApp:
    app = OneStepApp(f"policy-{source.exception_policy}")

    @app.task(source=source, concurrency=8, retry=MaxAttempts(1), dead_letter=dead)
    async def handle(ctx: Any, payload: Any) -> None:
        if payload["key"] == POISON and payload["seq"] == 1:
            raise ValueError("poisoned")
        handled.append((payload["key"], payload["seq"]))

    return app


def others_of(source: PartitionedStream) -> set[tuple[str, int]]:
    """The events not behind the poison one: keys of other partitions."""
    bad = source.partition_of({"key": POISON})
    return {(k, s) for k in KEYS for s in (1, 2, 3) if source.partition_of({"key": k}) != bad}


async def test_skip_dead_letters_the_event_and_processes_everything_else(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    await publish(connector, name)
    source, handled, dead = stream(connector, name, exception_policy="skip"), [], MemoryQueue("dead")
    app = policy_app(source, handled, dead)
    await run(app, lambda: len(handled) == len(KEYS) * 3 - 1)
    assert (POISON, 2) in handled and (POISON, 3) in handled
    assert dead.size() == 1
    await connector.close()


async def test_halt_stops_the_partition_and_reports_it(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    await publish(connector, name)
    source, handled, dead = stream(connector, name, exception_policy="halt"), [], MemoryQueue("dead")
    app = policy_app(source, handled, dead)
    bad = source.partition_of({"key": POISON})
    reported: list[list[dict[str, Any]]] = []
    ready: list[dict[str, Any]] = []

    def others_done_and_halted() -> bool:
        reported.append(halted_partitions())
        ready.append(source.readiness())
        return others_of(source) <= set(handled) and bool(reported[-1])

    await run(app, others_done_and_halted)
    assert not any(key == POISON for key, _seq in handled)  # its later events wait behind it
    assert dead.size() == 0
    assert reported[-1] == [
        {"stream": name, "partition": bad, "reason": reported[-1][0]["reason"]},
    ]
    assert "ValueError: poisoned" in reported[-1][0]["reason"]
    assert ready[-1] == {"ok": False, "quarantined": [], "halted": [bad]}  # /readyz: not ready
    await connector.close()


async def test_quarantine_parks_the_partition_for_every_worker_until_released(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    await publish(connector, name)
    source, handled, dead = stream(connector, name, exception_policy="quarantine"), [], MemoryQueue("dead")
    bad = source.partition_of({"key": POISON})
    seen: list[list[dict[str, Any]]] = []

    def others_done_and_listed() -> bool:
        seen.append(quarantined_partitions())
        return others_of(source) <= set(handled) and bool(seen[-1])

    await run(policy_app(source, handled, dead), others_done_and_listed)
    assert [(row["stream"], row["partition"]) for row in seen[-1]] == [(name, bad)]
    assert "ValueError: poisoned" in seen[-1][0]["error"]
    assert source.readiness() == {"ok": True, "quarantined": [bad], "halted": []}  # what /readyz lists
    assert not any(key == POISON for key, _seq in handled)
    # a fresh worker does not take the parked partition either
    again = stream(connector, name, exception_policy="quarantine")
    await run(policy_app(again, handled, dead), lambda: bool(again.quarantined), timeout_s=5)
    assert bad not in again.owned and not any(key == POISON for key, _seq in handled)
    # released: the poison event runs first again (and fails again: parked again)
    assert await again.release_quarantine(bad)
    fixed = stream(connector, name, exception_policy="quarantine")
    healed: list[tuple[str, int]] = []
    app = OneStepApp("healed")

    @app.task(source=fixed, concurrency=8)
    async def handle(ctx: Any, payload: Any) -> None:
        healed.append((payload["key"], payload["seq"]))

    await run(app, lambda: (POISON, 3) in healed)
    assert [seq for key, seq in healed if key == POISON] == [1, 2, 3]
    await connector.close()


async def test_a_worker_that_lost_its_lease_cannot_ack(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    sink = stream(connector, name)
    await sink.publish({"key": "a", "seq": 1})
    partition = sink.partition_of({"key": "a"})
    stalled = stream(connector, name, worker_id="w-stalled")
    [delivery] = await stalled.fetch(1)
    # the handler "stalls" past the lease: it expires, and another worker takes over
    client = await connector.acquire()
    await client.delete(f"{name}:onestep:lease:{partition}")
    await client.zrem(f"{name}:onestep:members", "w-stalled")
    taker = stream(connector, name, worker_id="w-taker")
    await taker.tick()
    assert partition in taker.owned, "the expired lease was not taken"
    await delivery.ack()  # the stalled worker wakes and acks: refused by the fence
    assert (await client.xpending(f"{name}:{partition}", "onestep"))["pending"] == 1
    assert partition not in stalled.owned  # and it knows it lost the partition
    [replayed] = await taker.fetch(1)
    assert replayed.payload == {"key": "a", "seq": 1}  # the new owner replays it
    await replayed.ack()
    assert (await client.xpending(f"{name}:{partition}", "onestep"))["pending"] == 0
    await connector.release()
    for each in (stalled, taker):
        await each.close()
    await connector.close()


async def test_one_slot_is_shared_by_every_partition(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    source = stream(connector, name)
    await source.publish_many({"key": key, "seq": seq} for seq in range(1, 21) for key in KEYS)
    partitions_seen: list[int] = []
    for _ in range(PARTITIONS):  # concurrency 1: one event per fetch
        [delivery] = await source.fetch(1)
        partitions_seen.append(source.partition_of(delivery.payload))
        await delivery.ack()
    assert sorted(partitions_seen) == list(range(PARTITIONS)), "a busy partition kept the slot"
    await source.close()
    await connector.close()


async def test_a_deleted_partition_stream_is_made_again(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    source = stream(connector, name)
    await source.publish({"key": "a", "seq": 1})
    [first] = await source.fetch(1)
    await first.ack()
    client = await connector.acquire()
    await client.delete(f"{name}:{source.partition_of({'key': 'a'})}")  # an operator's DEL
    await connector.release()
    assert await source.fetch(1) == []  # no error: the group is made again
    await source.publish({"key": "a", "seq": 2})
    [second] = await source.fetch(1)
    assert second.payload == {"key": "a", "seq": 2}
    await second.ack()
    await source.close()
    await connector.close()


async def test_quarantine_lets_the_other_keys_in_flight_ack(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    source = stream(connector, name, exception_policy="quarantine")
    bad = source.partition_of({"key": POISON})
    sibling = next(k for k in KEYS[1:] if source.partition_of({"key": k}) == bad)
    await source.publish_many([{"key": POISON, "seq": 1}, {"key": sibling, "seq": 1}])
    deliveries = {d.payload["key"]: d for d in await source.fetch(10)}
    assert set(deliveries) == {POISON, sibling}  # both in flight, side by side
    assert await deliveries[POISON].hold_after_failure(ValueError("poisoned"))  # as the runner does
    await deliveries[sibling].ack()  # still ours: the ack goes through
    client = await connector.acquire()
    assert (await client.xpending(f"{name}:{bad}", "onestep"))["pending"] == 1  # only the poisoned
    await source.tick()  # nothing in flight any more: the parked partition is let go
    assert bad not in source.owned
    assert await client.get(f"{name}:onestep:lease:{bad}") is None
    await connector.release()
    await source.close()
    await connector.close()


async def test_a_failed_ack_holds_the_key_until_the_partition_is_replayed(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    source = stream(connector, name)
    await source.publish_many([{"key": "a", "seq": 1}, {"key": "a", "seq": 2}])
    [first] = await source.fetch(10)
    real_ack_many = PartitionLeases.ack_many

    async def unreachable(*args: Any, **kwargs: Any) -> list[bool]:
        raise ConnectionError("Redis went away mid-ack")

    monkeypatch.setattr(PartitionLeases, "ack_many", unreachable)
    with pytest.raises(ConnectorOperationError):
        await first.ack()
    assert await source.fetch(10) == []  # seq 2 does not pass the unacked seq 1
    monkeypatch.setattr(PartitionLeases, "ack_many", real_ack_many)
    await source.tick()  # Redis back: the partition is let go and taken again
    [again] = await source.fetch(10)
    assert again.payload == {"key": "a", "seq": 1}  # replayed first, in order
    await again.ack()
    [second] = await source.fetch(10)
    assert second.payload == {"key": "a", "seq": 2}
    await second.ack()
    await source.close()
    await connector.close()


async def test_a_quarantine_that_cannot_be_written_lets_the_partition_go(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    source = stream(connector, name, exception_policy="quarantine")
    await source.publish({"key": POISON, "seq": 1})
    [poisoned] = await source.fetch(10)

    async def unreachable(*args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(PartitionLeases, "quarantine", unreachable)
    assert "quarantined" in (await poisoned.hold_after_failure(ValueError("poisoned")) or "")
    assert source.quarantined == {}  # not parked: nothing says so in Redis
    assert await source.fetch(10) == []  # and nothing more is handed out meanwhile
    monkeypatch.undo()
    await source.tick()  # let go and taken again: the event runs again
    [again] = await source.fetch(10)
    assert again.payload == {"key": POISON, "seq": 1}
    await again.ack()
    await source.close()
    await connector.close()


async def test_an_idle_worker_waits_in_redis_and_wakes_on_a_new_event(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    source = connector.partitioned_stream(name, partitions=4, key=lambda p: p["key"], poll_interval_s=1.0)
    assert await source.fetch(1) == []  # takes its partitions, nothing there yet
    client = await connector.acquire()

    async def reads() -> int:
        stats = await client.info("commandstats")
        return int(stats.get("cmdstat_xreadgroup", {}).get("calls", 0))

    before = await reads()
    loop = asyncio.get_running_loop()
    started = loop.time()
    fetching = asyncio.create_task(source.fetch(1))
    await asyncio.sleep(0.3)
    await client.xadd(f"{name}:{source.partition_of({'key': 'a'})}", {"body": '{"key": "a"}'})
    [delivery] = await fetching
    assert loop.time() - started < 0.9  # woken by the event, not by the end of the wait
    assert await reads() - before <= 2  # one blocking read (polling would be about six)
    await delivery.ack()
    await connector.release()
    await source.close()
    await connector.close()


async def test_serving_until_idle_waits_for_a_retry_held_in_its_partition(redis_url: str) -> None:
    connector, name = RedisConnector(redis_url), f"pol-{uuid.uuid4().hex[:8]}"
    source = stream(connector, name)
    await source.publish({"key": "a", "seq": 1})
    attempts: list[int] = []
    app = OneStepApp("until-idle")

    @app.task(source=source, retry=MaxAttempts(2, delay_s=0.3))
    async def flaky(ctx: Any, payload: Any) -> None:
        attempts.append(ctx.current.attempts)
        if len(attempts) == 1:
            raise ValueError("first time")

    await asyncio.wait_for(app.serve(until_idle=True), 15)
    assert attempts == [0, 1]  # the held retry ran before serve() called it idle
    await connector.close()
