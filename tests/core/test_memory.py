"""MemoryQueue: FIFO, batching, attempts on retry, delay heap, maxsize, loop independence."""

from __future__ import annotations

import asyncio
import time

import pytest

from django_onestep import Envelope, MemoryQueue


async def test_fifo_batch_limits_and_payloads() -> None:
    queue = MemoryQueue("q", batch_size=3)
    for n in range(5):
        await queue.publish(n, meta={"n": n})
    first = await queue.fetch(10)
    assert [d.payload for d in first] == [0, 1, 2]  # batch_size caps the fetch
    second = await queue.fetch(1)
    assert [(d.envelope.body, d.envelope.meta) for d in second] == [(3, {"n": 3})]
    assert queue.size() == 1


async def test_empty_fetch_waits_poll_interval_and_wakes_on_send() -> None:
    queue = MemoryQueue("q", poll_interval_s=0.05)
    began = time.monotonic()
    assert await queue.fetch(5) == []
    assert time.monotonic() - began >= 0.04
    slow = MemoryQueue("q2", poll_interval_s=10)
    waiting = asyncio.create_task(slow.fetch(5))
    await asyncio.sleep(0.01)
    await slow.publish("x")
    got = await asyncio.wait_for(waiting, 2)
    assert [d.payload for d in got] == ["x"]


async def test_retry_increments_attempts_and_copies_meta() -> None:
    queue = MemoryQueue("q")
    await queue.publish("x", meta={"m": 1}, attempts=2)
    [delivery] = await queue.fetch(1)
    await delivery.retry()
    [again] = await queue.fetch(1)
    assert (again.envelope.body, again.envelope.meta, again.envelope.attempts) == ("x", {"m": 1}, 3)
    assert again.envelope.meta is not delivery.envelope.meta


async def test_delayed_retry_waits_in_heap_not_in_caller() -> None:
    queue = MemoryQueue("q", poll_interval_s=1.0)
    await queue.publish("late")
    [delivery] = await queue.fetch(1)
    began = time.monotonic()
    await delivery.retry(delay_s=0.2)
    assert time.monotonic() - began < 0.1  # retry() itself does not sleep
    assert queue.pending_count() == 1
    assert queue.size() == 1
    await queue.publish("now")
    [now] = await queue.fetch(5)
    assert now.payload == "now"
    [late] = await asyncio.wait_for(queue.fetch(5), 3)  # fetch wakes when the retry is due
    assert (late.payload, late.envelope.attempts) == ("late", 1)
    assert time.monotonic() - began >= 0.19
    assert queue.pending_count() == 0


async def test_release_unstarted_puts_item_back_first_without_attempt() -> None:
    queue = MemoryQueue("q")
    await queue.publish("a")
    await queue.publish("b")
    [a] = await queue.fetch(1)
    await a.release_unstarted()
    got = await queue.fetch(5)
    assert [(d.payload, d.envelope.attempts) for d in got] == [("a", 0), ("b", 0)]


async def test_maxsize_blocks_send_until_space() -> None:
    queue = MemoryQueue("q", maxsize=1)
    await queue.publish(1)
    blocked = asyncio.create_task(queue.publish(2))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    await queue.fetch(1)
    await asyncio.wait_for(blocked, 2)
    assert [d.payload for d in await queue.fetch(5)] == [2]


def test_items_survive_across_event_loops() -> None:
    queue = MemoryQueue("q")
    asyncio.run(queue.publish("kept"))
    got = asyncio.run(queue.fetch(1))
    assert [d.payload for d in got] == ["kept"]


def test_put_nowait_and_drain_nowait() -> None:
    queue = MemoryQueue("q")
    queue.put_nowait("a", meta={"x": 1})
    assert queue.drain_nowait() == [Envelope(body="a", meta={"x": 1}, attempts=0)]
    assert queue.size() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maxsize": -1}, r"^maxsize: must be >= 0, got -1$"),
        ({"batch_size": 0}, r"^batch_size: must be >= 1, got 0$"),
        ({"poll_interval_s": 0}, r"^poll_interval_s: must be > 0, got 0$"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemoryQueue("q", **kwargs)  # type: ignore[arg-type]


def test_capabilities() -> None:
    queue = MemoryQueue("q")
    assert queue.supports_manual_run is True
    assert queue.fetch_is_cancel_safe is True
    assert (queue.batch_size, queue.poll_interval_s) == (100, 0.1)
