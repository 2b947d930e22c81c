"""Shutdown, cancellation, thread-safe stop, until_idle/tasks selection, runtime_status."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from django_onestep import Envelope, MemoryQueue, OneStepApp, TaskHooks
from django_onestep.core.base import Delivery, Source

from .conftest import EventLog, serve_idle, wait_until


async def test_shutdown_past_timeout_cancels_and_retries_inflight(events: EventLog) -> None:
    app = OneStepApp("sd", shutdown_timeout_s=0.2)
    app.on_event(events)
    queue = MemoryQueue("in")
    started = asyncio.Event()

    @app.task(source=queue)
    async def stuck(ctx, item):
        started.set()
        await asyncio.sleep(60)

    await queue.publish({"job": 1}, meta={"m": 1})
    serving = asyncio.create_task(app.serve())
    await asyncio.wait_for(started.wait(), 10)
    app.request_shutdown()
    await asyncio.wait_for(serving, 20)
    assert events.kinds() == ["fetched", "started", "cancelled", "retried"]
    cancelled = events.events[2]
    assert cancelled.failure is not None
    assert cancelled.failure.as_dict() == {
        "kind": "cancelled",
        "exception_type": "CancelledError",
        "message": "",
    }
    # never acked: the item is back in the queue with the attempt counted
    [env] = queue.drain_nowait()
    assert (env.body, env.meta, env.attempts) == ({"job": 1}, {"m": 1}, 1)


async def test_graceful_shutdown_waits_for_inflight_within_timeout() -> None:
    app = OneStepApp("sd", shutdown_timeout_s=10)
    queue, out = MemoryQueue("in"), MemoryQueue("out")
    started = asyncio.Event()

    @app.task(source=queue, emit=out)
    async def slowish(ctx, item):
        started.set()
        await asyncio.sleep(0.2)
        return "done"

    await queue.publish(1)
    serving = asyncio.create_task(app.serve())
    await asyncio.wait_for(started.wait(), 10)
    app.request_shutdown()
    await asyncio.wait_for(serving, 20)
    assert [e.body for e in out.drain_nowait()] == ["done"]
    assert queue.size() == 0


async def test_request_shutdown_from_another_thread_stops_serve() -> None:
    app = OneStepApp("thr")
    queue = MemoryQueue("in", poll_interval_s=5.0)  # a long fetch wait that must be interrupted

    @app.task(source=queue)
    async def work(ctx, item): ...

    serving = asyncio.create_task(app.serve())
    await wait_until(lambda: app.runtime_status()["serving"])
    await wait_until(lambda: app.runtime_status()["tasks"]["work"]["fetching"])
    began = time.monotonic()
    threading.Thread(target=app.request_shutdown).start()
    await asyncio.wait_for(serving, 10)
    assert time.monotonic() - began < 4.0  # did not wait for the 5 s poll
    assert app.runtime_status()["serving"] is False


async def test_sync_handler_can_request_shutdown_from_its_thread() -> None:
    app = OneStepApp("thr")
    queue = MemoryQueue("in")
    threads: list[int] = []

    @app.task(source=queue)
    def work(ctx, item):
        threads.append(threading.get_ident())
        ctx.app.request_shutdown()

    await queue.publish(1)
    await asyncio.wait_for(app.serve(), 10)
    assert threads and threads[0] != threading.get_ident()


async def test_sync_handler_timeout_keeps_slot_until_thread_returns(events: EventLog) -> None:
    app = OneStepApp("synct")
    app.on_event(events)
    queue, dead = MemoryQueue("in", poll_interval_s=0.02), MemoryQueue("dead")
    release = threading.Event()
    running: list[str] = []

    @app.task(source=queue, timeout_s=0.1, dead_letter=dead, concurrency=1)
    def blocking(ctx, item):
        running.append(item)
        if item == "slow":
            release.wait(10)
        return item

    await queue.publish("slow")
    await queue.publish("fast")
    serving = asyncio.create_task(serve_idle(app))
    await wait_until(lambda: "dead_lettered" in events.kinds())
    # timed out and dead-lettered, but the thread still runs: the only slot stays busy
    await asyncio.sleep(0.3)
    assert running == ["slow"]
    assert app.runtime_status()["tasks"]["blocking"]["inflight"] == 1
    release.set()
    await serving
    assert running == ["slow", "fast"]
    assert [e.body["payload"] for e in dead.drain_nowait()] == ["slow"]
    failed = [e for e in events.events if e.kind.value == "failed"]
    assert failed[0].failure is not None
    assert (failed[0].failure.kind.value, failed[0].failure.exception_type, failed[0].failure.message) == (
        "timeout",
        "TimeoutError",
        "",
    )


async def test_serve_tasks_selects_runners_and_rejects_unknown_names() -> None:
    app = OneStepApp("sel")
    qa, qb = MemoryQueue("a"), MemoryQueue("b")
    ran: list[str] = []

    @app.task(source=qa)
    async def task_a(ctx, item):
        ran.append("a")

    @app.task(source=qb)
    async def task_b(ctx, item):
        ran.append("b")

    await qa.publish(1)
    await qb.publish(1)
    with pytest.raises(ValueError, match=r"unknown task\(s\) \['nope'\] in app 'sel'"):
        await app.serve(tasks=["nope"])
    await serve_idle(app, tasks=["task_b"])
    assert ran == ["b"]
    assert qa.size() == 1


async def test_until_idle_waits_for_delayed_retries() -> None:
    app = OneStepApp("idle")
    queue = MemoryQueue("in", poll_interval_s=0.02)
    attempts: list[int] = []

    from django_onestep import MaxAttempts

    @app.task(source=queue, retry=MaxAttempts(2, delay_s=0.2))
    async def work(ctx, item):
        attempts.append(ctx.current.attempts)
        if ctx.current.attempts == 0:
            raise RuntimeError("later")

    await queue.publish(1)
    await serve_idle(app)
    assert attempts == [0, 1]


async def test_runtime_status_reports_inflight_per_task() -> None:
    app = OneStepApp("rs")
    queue = MemoryQueue("in")
    gate = asyncio.Event()

    @app.task(source=queue, concurrency=3)
    async def work(ctx, item):
        await gate.wait()

    @app.task()
    async def no_source(ctx, item): ...

    for i in range(2):
        await queue.publish(i)
    serving = asyncio.create_task(app.serve())
    await wait_until(lambda: app.runtime_status()["inflight_task_count"] == 2)
    status = app.runtime_status()
    assert status == {
        "app": "rs",
        "serving": True,
        "stopping": False,
        "draining": False,
        "inflight_task_count": 2,
        "tasks": {
            "work": {"running": True, "inflight": 2, "concurrency": 3, "fetching": status["tasks"]["work"]["fetching"], "paused": False, "fetch_failures": 0},
            "no_source": {"running": False, "inflight": 0, "concurrency": 1, "fetching": False, "paused": False, "fetch_failures": 0},
        },
    }  # fmt: skip
    gate.set()
    app.request_shutdown()
    await asyncio.wait_for(serving, 10)


async def test_non_cancel_safe_fetch_releases_unstarted_items_at_shutdown() -> None:
    released: list[object] = []
    fetch_started = asyncio.Event()
    finish_fetch = asyncio.Event()

    class ReleasingDelivery(Delivery):
        async def ack(self) -> None: ...

        async def retry(self, *, delay_s: float | None = None) -> None: ...

        async def fail(self, exc: Exception | None = None) -> None: ...

        async def release_unstarted(self) -> None:
            released.append(self.payload)

    class ClaimingSource(Source):
        fetch_is_cancel_safe = False

        async def fetch(self, limit: int) -> list[Delivery]:
            fetch_started.set()
            await finish_fetch.wait()  # a claim that must not be interrupted
            return [ReleasingDelivery(Envelope(body=i)) for i in range(2)]

    app = OneStepApp("rel")
    ran: list[object] = []

    @app.task(source=ClaimingSource("claims"), concurrency=2)
    async def work(ctx, item):
        ran.append(item)

    serving = asyncio.create_task(app.serve())
    await asyncio.wait_for(fetch_started.wait(), 10)
    app.request_shutdown()
    await asyncio.sleep(0.05)
    finish_fetch.set()
    await asyncio.wait_for(serving, 10)
    assert ran == []
    assert released == [0, 1]


async def test_serve_twice_sequentially_works() -> None:
    app = OneStepApp("again")
    queue = MemoryQueue("in")
    seen: list[int] = []

    @app.task(source=queue)
    async def work(ctx, item):
        seen.append(item)

    await queue.publish(1)
    await serve_idle(app)
    await queue.publish(2)
    await serve_idle(app)
    assert seen == [1, 2]


async def test_until_idle_waits_for_tasks_feeding_each_other() -> None:
    app = OneStepApp("chain")
    first, second, third = MemoryQueue("first"), MemoryQueue("second"), MemoryQueue("third")
    done: list[str] = []

    @app.task(source=third)
    async def last(ctx, item):
        done.append(f"last {item}")

    @app.task(source=second, emit=third)
    async def middle(ctx, item):
        await asyncio.sleep(0.3)  # "last" has long gone idle by now
        return item + 1

    @app.task(source=first, emit=second)
    async def begin(ctx, item):
        return item + 1

    await first.publish(1)
    await serve_idle(app)
    assert done == ["last 3"]


async def test_cancel_while_reporting_success_does_not_requeue() -> None:
    app = OneStepApp("late", shutdown_timeout_s=0.2)
    queue = MemoryQueue("in")
    reporting = asyncio.Event()

    @app.on_event
    async def slow_observer(event):
        if event.kind.value == "succeeded":
            reporting.set()
            await asyncio.sleep(60)

    @app.task(source=queue)
    async def work(ctx, item): ...

    await queue.publish("once")
    serving = asyncio.create_task(app.serve())
    await asyncio.wait_for(reporting.wait(), 10)
    app.request_shutdown()
    await asyncio.wait_for(serving, 20)
    assert queue.size() == 0  # acked before the cancel: not handed back


async def test_cancel_during_failure_hook_hands_the_item_back() -> None:
    app = OneStepApp("late", shutdown_timeout_s=0.2)
    queue = MemoryQueue("in")
    in_hook = asyncio.Event()

    async def slow_hook(ctx, payload, failure):
        in_hook.set()
        await asyncio.sleep(60)

    @app.task(source=queue, hooks=TaskHooks(on_failure=(slow_hook,)))
    async def work(ctx, item):
        raise RuntimeError("x")

    await queue.publish("again")
    serving = asyncio.create_task(app.serve())
    await asyncio.wait_for(in_hook.wait(), 10)
    app.request_shutdown()
    await asyncio.wait_for(serving, 20)
    [env] = queue.drain_nowait()
    assert (env.body, env.attempts) == ("again", 1)
