"""Event order, dead-letter envelope, timeouts and retries through the real runner."""

from __future__ import annotations

import asyncio

from django_onestep import (
    Envelope,
    ExponentialBackoff,
    FailureKind,
    MaxAttempts,
    MemoryQueue,
    OneStepApp,
    TaskEventKind,
)
from django_onestep.core.base import Delivery, Sink, Source

from .conftest import EventLog, serve_idle


async def test_success_event_order_and_fields(events: EventLog) -> None:
    app = OneStepApp("ev")
    app.on_event(events)
    queue = MemoryQueue("in")

    @app.task(source=queue)
    async def work(ctx, item):
        return None

    await queue.publish({"n": 1}, meta={"trace": "t1"})
    await serve_idle(app)
    assert events.kinds() == ["fetched", "started", "succeeded"]
    done = events.events[-1]
    assert (done.app, done.task, done.source, done.attempts) == ("ev", "work", "in", 0)
    assert done.meta == {"trace": "t1"}
    assert done.failure is None
    assert done.duration_s is not None and done.duration_s >= 0
    assert events.events[0].duration_s is None


async def test_terminal_failure_with_dead_letter_order_and_envelope(events: EventLog) -> None:
    app = OneStepApp("ev")
    app.on_event(events)
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=queue, dead_letter=dead)
    async def boom(ctx, item):
        raise RuntimeError("bad item")

    await queue.publish({"n": 1}, meta={"k": "v"})
    await serve_idle(app)
    assert events.kinds() == ["fetched", "started", "dead_lettered", "failed"]
    [stored] = dead.drain_nowait()
    failure = stored.body["failure"]
    assert stored.body["payload"] == {"n": 1}
    assert failure["kind"] == "error"
    assert failure["exception_type"] == "RuntimeError"
    assert failure["message"] == "bad item"
    assert "RuntimeError: bad item" in failure["traceback"]
    assert set(stored.body) == {"payload", "failure"}
    assert stored.meta == {
        "app": "ev",
        "task": "boom",
        "source": "in",
        "original_meta": {"k": "v"},
        "original_attempts": 0,
    }
    assert stored.attempts == 0
    assert events.events[-1].failure is not None
    assert events.events[-1].failure.exception_type == "RuntimeError"


async def test_terminal_failure_without_dead_letter(events: EventLog) -> None:
    app = OneStepApp("ev")
    app.on_event(events)
    queue = MemoryQueue("in")

    @app.task(source=queue)
    async def boom(ctx, item):
        raise ValueError("nope")

    await queue.publish(1)
    await serve_idle(app)
    assert events.kinds() == ["fetched", "started", "failed"]


async def test_max_attempts_counts_every_retry_and_terminates(events: EventLog) -> None:
    app = OneStepApp("ev")
    app.on_event(events)
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")
    seen: list[int] = []

    @app.task(source=queue, retry=MaxAttempts(3), dead_letter=dead)
    async def flaky(ctx, item):
        seen.append(ctx.current.attempts)
        raise RuntimeError("again")

    await queue.publish("x")
    await serve_idle(app)
    assert seen == [0, 1, 2]
    assert events.kinds() == [
        "fetched", "started", "retried",
        "fetched", "started", "retried",
        "fetched", "started", "dead_lettered", "failed",
    ]  # fmt: skip
    assert [e.attempts for e in events.events if e.kind is TaskEventKind.RETRIED] == [0, 1]
    [stored] = dead.drain_nowait()
    assert stored.meta["original_attempts"] == 2


async def test_timeout_is_failure_kind_timeout_with_empty_message(events: EventLog) -> None:
    app = OneStepApp("ev")
    app.on_event(events)
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=queue, timeout_s=0.05, dead_letter=dead)
    async def slow(ctx, item):
        await asyncio.sleep(10)

    await queue.publish("x")
    await serve_idle(app)
    [stored] = dead.drain_nowait()
    assert stored.body["failure"]["kind"] == "timeout"
    assert stored.body["failure"]["exception_type"] == "TimeoutError"
    assert stored.body["failure"]["message"] == ""
    failed = events.events[-1]
    assert failed.kind is TaskEventKind.FAILED
    assert failed.failure is not None and failed.failure.kind is FailureKind.TIMEOUT


async def test_delayed_retry_does_not_hold_the_slot() -> None:
    app = OneStepApp("ev")
    queue = MemoryQueue("in", poll_interval_s=0.02)
    order: list[str] = []

    @app.task(source=queue, concurrency=1, retry=MaxAttempts(2, delay_s=0.3))
    async def work(ctx, item):
        order.append(f"{item}@{ctx.current.attempts}")
        if item == "a" and ctx.current.attempts == 0:
            raise RuntimeError("retry later")

    await queue.publish("a")
    await queue.publish("b")
    await serve_idle(app)
    # b ran while a's retry waited in the delay heap, with the only slot free.
    assert order == ["a@0", "b@0", "a@1"]


async def test_exponential_backoff_retry_delays_reach_the_source() -> None:
    delays: list[float | None] = []

    class RecordingDelivery(Delivery):
        async def ack(self) -> None: ...

        async def retry(self, *, delay_s: float | None = None) -> None:
            delays.append(delay_s)

        async def fail(self, exc: Exception | None = None) -> None: ...

    class OneShot(Source):
        def __init__(self) -> None:
            super().__init__("oneshot")
            self.items = [Envelope(body=1, attempts=0), Envelope(body=2, attempts=3)]

        async def fetch(self, limit: int) -> list[Delivery]:
            items, self.items = self.items, []
            return [RecordingDelivery(e) for e in items]

    app = OneStepApp("ev")

    @app.task(source=OneShot(), concurrency=2, retry=ExponentialBackoff(10, 1.0, 5.0, 2.0))
    async def work(ctx, item):
        raise RuntimeError("x")

    await serve_idle(app)
    assert sorted(d for d in delays if d is not None) == [1.0, 5.0]  # 1*2**0, min(5, 1*2**3)


async def test_dead_letter_publish_failure_retries_the_original(events: EventLog) -> None:
    class FlakySink(Sink):
        def __init__(self) -> None:
            super().__init__("flaky-dead")
            self.calls = 0
            self.stored: list[Envelope] = []

        async def send(self, envelope: Envelope) -> None:
            self.calls += 1
            if self.calls == 1:
                raise OSError("disk full")
            self.stored.append(envelope)

    app = OneStepApp("ev")
    app.on_event(events)
    queue, dead = MemoryQueue("in"), FlakySink()

    @app.task(source=queue, dead_letter=dead)
    async def boom(ctx, item):
        raise RuntimeError("bad")

    await queue.publish("x")
    await serve_idle(app)
    assert events.kinds() == [
        "fetched", "started", "retried",
        "fetched", "started", "dead_lettered", "failed",
    ]  # fmt: skip
    [stored] = dead.stored
    assert stored.body["payload"] == "x"
    assert stored.meta["original_attempts"] == 1


async def test_notification_in_result_is_copied_to_succeeded_meta(events: EventLog) -> None:
    app = OneStepApp("ev")
    app.on_event(events)
    queue = MemoryQueue("in")

    @app.task(source=queue)
    async def work(ctx, item):
        return {"notification": {"title": "hi", "n": 1, "bad": float("nan"), 3: "x", "o": object()}}

    await queue.publish("x")
    await serve_idle(app)
    assert events.events[-1].meta == {"notification": {"title": "hi", "n": 1}}
