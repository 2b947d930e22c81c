"""Batch handlers: hooks, emit, timeouts, poison items, shutdown, and what events show."""

from __future__ import annotations

import asyncio
from typing import Any

from django_onestep import BatchContext, MemoryQueue, OneStepApp, TaskHooks
from django_onestep.core.base import Delivery, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.runtime.memory import MemoryDelivery

from .conftest import EventLog, serve_idle, wait_until


async def test_hooks_get_the_batch_and_on_failure_runs_per_failed_item() -> None:
    app = OneStepApp("batches")
    queue, out = MemoryQueue("in"), MemoryQueue("out")
    calls: list[Any] = []
    hooks = TaskHooks(
        before=lambda ctx, payloads: calls.append(("before", list(payloads))),
        after_success=lambda ctx, payloads, result: calls.append(("after", result)),
        on_failure=lambda ctx, payload, failure: calls.append(("failed", ctx.current.body, failure.message)),
    )

    @app.task(source=queue, emit=out, hooks=hooks, batch_size=3, batch_within_s=0.1)
    async def work(ctx: BatchContext, payloads: list[int]) -> int:
        ctx.batch.fail(1, ValueError("odd one"))
        return sum(payloads)

    for n in (1, 2, 3):
        queue.put_nowait(n)
    await serve_idle(app)
    assert calls == [("before", [1, 2, 3]), ("after", 6), ("failed", 2, "odd one")]
    assert [e.body for e in out.drain_nowait()] == [6]  # the result goes out once


async def test_timeout_s_bounds_the_whole_batch(events: EventLog) -> None:
    app = OneStepApp("batches")
    app.on_event(events)
    queue = MemoryQueue("in")

    @app.task(source=queue, timeout_s=0.1, batch_size=2, batch_within_s=0.0)
    async def work(ctx, payloads):
        await asyncio.sleep(10)

    queue.put_nowait("a")
    queue.put_nowait("b")
    await serve_idle(app)
    failures = [e.failure for e in events.events if e.kind.value == "failed"]
    assert [f.kind.value for f in failures if f is not None] == ["timeout", "timeout"]


async def test_retry_requested_items_show_as_retried_with_their_reason(events: EventLog) -> None:
    app = OneStepApp("batches")
    app.on_event(events)
    queue = MemoryQueue("in")

    @app.task(source=queue, batch_size=2, batch_within_s=0.0)
    async def work(ctx, payloads):
        if ctx.batch[0].attempts == 0:
            ctx.batch.retry(ctx.batch[0])

    queue.put_nowait("a")
    await serve_idle(app)
    assert events.kinds() == ["fetched", "started", "retried", "fetched", "started", "succeeded"]
    retried = events.events[2]
    assert retried.failure is not None and retried.failure.exception_type == "RetryRequested"


class OneShotSource(Source):
    def __init__(self, deliveries: list[Delivery]) -> None:
        super().__init__("one-shot")
        self.deliveries = deliveries
        self.poll_interval_s = 0.01

    async def fetch(self, limit: int) -> list[Delivery]:
        taken, self.deliveries = self.deliveries, []
        return taken


async def test_a_poison_item_is_dead_lettered_alone_and_the_rest_run() -> None:
    app = OneStepApp("batches")
    home, dead = MemoryQueue("home"), MemoryQueue("dead")
    poisoned = MemoryDelivery(home, Envelope(body=b"\xff"))
    poisoned.poison_reason = "undecodable body"
    good = [MemoryDelivery(home, Envelope(body=n)) for n in (1, 2)]
    seen: list[list[int]] = []

    @app.task(source=OneShotSource([good[0], poisoned, good[1]]), dead_letter=dead, batch_size=5)
    async def work(ctx, payloads):
        seen.append(payloads)

    await serve_idle(app)
    assert seen == [[1, 2]]
    [letter] = dead.drain_nowait()
    assert letter.body["failure"]["exception_type"] == "PoisonMessageError"


async def test_shutdown_past_its_timeout_hands_the_whole_batch_back(events: EventLog) -> None:
    app = OneStepApp("batches", shutdown_timeout_s=0.1)
    app.on_event(events)
    queue = MemoryQueue("in")
    started = asyncio.Event()

    @app.task(source=queue, batch_size=3, batch_within_s=0.0)
    async def work(ctx, payloads):
        started.set()
        await asyncio.sleep(30)

    for n in range(3):
        queue.put_nowait(n)
    serving = asyncio.create_task(app.serve())
    await asyncio.wait_for(started.wait(), 10)
    app.request_shutdown()
    await asyncio.wait_for(serving, 10)
    await wait_until(lambda: queue.size() == 3)
    assert sorted((e.body, e.attempts) for e in queue.drain_nowait()) == [(0, 1), (1, 1), (2, 1)]
    assert events.kinds().count("cancelled") == 3


async def test_a_stop_while_a_batch_gathers_gives_its_items_back_untouched() -> None:
    app = OneStepApp("batches")
    queue = MemoryQueue("in")
    ran: list[Any] = []

    @app.task(source=queue, batch_size=10, batch_within_s=30.0)
    async def work(ctx, payloads):
        ran.append(payloads)

    queue.put_nowait("a")
    queue.put_nowait("b")
    serving = asyncio.create_task(app.serve())
    await wait_until(lambda: queue.size() == 0)  # both taken; the batch waits for 8 more
    app.request_shutdown()
    await asyncio.wait_for(serving, 10)
    assert ran == []
    assert sorted((e.body, e.attempts) for e in queue.drain_nowait()) == [("a", 0), ("b", 0)]
