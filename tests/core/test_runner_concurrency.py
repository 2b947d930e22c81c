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


class _SlowAckQueue(MemoryQueue):
    """A MemoryQueue whose acks stay pending until the test opens ``ack_gate``: an ack
    that waits for a durable write (a database commit) behaves like this."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.ack_gate = asyncio.Event()
        self.pending_acks = 0
        self.peak_pending_acks = 0

    async def fetch(self, limit: int):  # type: ignore[no-untyped-def]
        deliveries = await super().fetch(limit)
        for delivery in deliveries:
            delivery.ack = self._slow_ack  # type: ignore[method-assign]
        return deliveries

    async def _slow_ack(self) -> None:
        self.pending_acks += 1
        self.peak_pending_acks = max(self.peak_pending_acks, self.pending_acks)
        try:
            await self.ack_gate.wait()
        finally:
            self.pending_acks -= 1


async def test_a_pending_ack_does_not_hold_a_handler_slot_and_pending_acks_are_bounded() -> None:
    app = OneStepApp("conc")
    queue = _SlowAckQueue("in", batch_size=10)
    running = peak_running = 0
    ran: list[int] = []
    twelve_ran = asyncio.Event()

    @app.task(source=queue, concurrency=2)
    async def work(ctx, item):
        nonlocal running, peak_running
        running += 1
        peak_running = max(peak_running, running)
        await asyncio.sleep(0)
        running -= 1
        ran.append(item)
        if len(ran) == 12:
            twelve_ran.set()

    for n in range(40):
        await queue.publish(n)

    async def open_gate_when_bounded() -> None:
        # with every ack held back, handlers keep running until the deliveries in flight
        # reach concurrency + max(concurrency, batch_size) = 12; then the runner waits
        await asyncio.wait_for(twelve_ran.wait(), 10)
        await asyncio.sleep(0.05)  # time for a thirteenth to start, if the bound failed
        assert len(ran) == 12 and queue.pending_acks == 12
        queue.ack_gate.set()

    opener = asyncio.create_task(open_gate_when_bounded())
    await serve_idle(app)
    await opener
    assert sorted(ran) == list(range(40))
    assert peak_running <= 2
    assert queue.peak_pending_acks == 12


async def test_with_concurrency_1_the_next_job_starts_only_after_the_ack() -> None:
    app = OneStepApp("conc")
    queue = _SlowAckQueue("in", batch_size=10)
    ran: list[int] = []
    first_ran = asyncio.Event()

    @app.task(source=queue, concurrency=1)
    async def work(ctx, item):
        ran.append(item)
        first_ran.set()

    for n in range(3):
        await queue.publish(n)

    async def open_gate_later() -> None:
        await asyncio.wait_for(first_ran.wait(), 10)
        await asyncio.sleep(0.1)  # time for a second job to start, if the slot were free
        assert ran == [0] and queue.pending_acks == 1
        queue.ack_gate.set()

    opener = asyncio.create_task(open_gate_later())
    await serve_idle(app)
    await opener
    assert ran == [0, 1, 2]
    assert queue.peak_pending_acks == 1
