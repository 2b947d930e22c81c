"""Sync handlers: thread pool sizing, parallelism, async handlers stay on the loop."""

from __future__ import annotations

import asyncio
import threading

from django_onestep import MemoryQueue, OneStepApp
from django_onestep.core.runtime.sync import MAX_SYNC_WORKERS, SyncPool

from .conftest import serve_idle


async def test_sync_handlers_run_in_parallel_up_to_concurrency() -> None:
    app = OneStepApp("par")
    queue = MemoryQueue("in")
    barrier = threading.Barrier(3, timeout=10)
    threads: set[int] = set()

    @app.task(source=queue, concurrency=3)
    def work(ctx, item):
        threads.add(threading.get_ident())
        barrier.wait()  # only passes if three handlers run at the same time

    for n in range(3):
        await queue.publish(n)
    await serve_idle(app)
    assert len(threads) == 3


async def test_async_handler_runs_on_the_loop_thread() -> None:
    app = OneStepApp("loop")
    queue = MemoryQueue("in")
    seen: list[int] = []

    @app.task(source=queue)
    async def work(ctx, item):
        seen.append(threading.get_ident())

    await queue.publish(1)
    await serve_idle(app)
    assert seen == [threading.get_ident()]


async def test_sync_handler_exception_is_a_normal_failure() -> None:
    app = OneStepApp("err")
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=queue, dead_letter=dead)
    def work(ctx, item):
        raise LookupError("no such row")

    await queue.publish(1)
    await serve_idle(app)
    [stored] = dead.drain_nowait()
    assert stored.body["failure"]["exception_type"] == "LookupError"
    assert stored.body["failure"]["message"] == "no such row"


async def test_sync_callable_returning_coroutine_is_awaited() -> None:
    app = OneStepApp("obj")
    queue, out = MemoryQueue("in"), MemoryQueue("out")

    async def later(item: int) -> int:
        await asyncio.sleep(0)
        return item + 1

    class Handler:
        def __call__(self, ctx, item):
            return later(item)

    app.task(name="obj", source=queue, emit=out)(Handler())
    await queue.publish(1)
    await serve_idle(app)
    assert [e.body for e in out.drain_nowait()] == [2]


def test_pool_size_is_bounded() -> None:
    pool = SyncPool("p")
    pool.configure(0)
    assert pool.max_workers == 1
    pool.configure(10_000)
    assert pool.max_workers == MAX_SYNC_WORKERS
    executor = pool.get()
    assert pool.get() is executor
    pool.shutdown()
    assert pool.get() is not executor
    pool.shutdown()


async def test_sync_handler_uses_state_and_emit_through_run_coroutine() -> None:
    app = OneStepApp("bridge")
    queue, out = MemoryQueue("in"), MemoryQueue("out")

    @app.task(source=queue, emit=out)
    def work(ctx, item):
        seen = ctx.run_coroutine(ctx.state.get("count", 0))
        ctx.run_coroutine(ctx.state.set("count", seen + 1))
        ctx.run_coroutine(ctx.emit({"explicit": item}))
        return None

    @app.task(source=MemoryQueue("other"))
    async def async_misuse(ctx, item):
        coro = asyncio.sleep(0)
        try:
            ctx.run_coroutine(coro)
        except RuntimeError as exc:
            errors.append(str(exc))
        finally:
            coro.close()

    errors: list[str] = []
    await queue.publish("a")
    await queue.publish("b")
    await app.get_task("async_misuse").source.publish(1)  # type: ignore[union-attr]
    await serve_idle(app)
    assert [e.body for e in out.drain_nowait()] == [{"explicit": "a"}, {"explicit": "b"}]
    assert await app.state.load("bridge:work:count") == 2
    assert errors == ["run_coroutine() is for sync handlers, which run in a worker thread"]
