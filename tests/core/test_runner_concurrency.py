"""The runner keeps exactly `concurrency` deliveries in flight, never more."""

from __future__ import annotations

import asyncio

from django_onestep import MemoryQueue, OneStepApp

from .conftest import serve_idle


async def test_inflight_never_exceeds_concurrency_and_reaches_it() -> None:
    app = OneStepApp("conc")
    queue = MemoryQueue("in", batch_size=100)
    running = peak = 0
    done: list[int] = []

    @app.task(source=queue, concurrency=5)
    async def work(ctx, item):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        done.append(item)

    for n in range(40):
        await queue.publish(n)
    await serve_idle(app)
    assert peak == 5
    assert sorted(done) == list(range(40))


async def test_tasks_have_independent_concurrency() -> None:
    app = OneStepApp("conc")
    qa, qb = MemoryQueue("a"), MemoryQueue("b")
    gate = asyncio.Event()
    running = {"a": 0, "b": 0}
    peaks = {"a": 0, "b": 0}

    async def body(name: str) -> None:
        running[name] += 1
        peaks[name] = max(peaks[name], running[name])
        if sum(running.values()) == 3:
            gate.set()
        await asyncio.wait_for(gate.wait(), 10)
        running[name] -= 1

    @app.task(source=qa, concurrency=1)
    async def task_a(ctx, item):
        await body("a")

    @app.task(source=qb, concurrency=2)
    async def task_b(ctx, item):
        await body("b")

    for n in range(3):
        await qa.publish(n)
        await qb.publish(n)
    await serve_idle(app)
    assert peaks == {"a": 1, "b": 2}
