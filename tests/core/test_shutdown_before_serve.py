"""A shutdown requested before serve() is honoured (onestep forgot it: serve() reset it)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from django_onestep import MemoryQueue, OneStepApp

from .conftest import serve_idle


class RecordingQueue(MemoryQueue):
    """A MemoryQueue that records open/close/fetch in a shared log."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(name, poll_interval_s=0.01)
        self.log = log

    async def open(self) -> None:
        self.log.append(f"open {self.name}")

    async def fetch(self, limit: int) -> Any:
        self.log.append(f"fetch {self.name}")
        return await super().fetch(limit)

    async def close(self) -> None:
        self.log.append(f"close {self.name}")


def _app(log: list[str]) -> tuple[OneStepApp, RecordingQueue, list[object]]:
    app = OneStepApp("early")
    queue = RecordingQueue("in", log)
    handled: list[object] = []

    @app.on_startup
    def started() -> None:
        log.append("startup hook")

    @app.on_shutdown
    def stopped() -> None:
        log.append("shutdown hook")

    @app.task(source=queue)
    async def work(ctx, item):
        handled.append(item)

    return app, queue, handled


async def test_serve_starts_and_stops_at_once_after_an_earlier_request_shutdown() -> None:
    log: list[str] = []
    app, queue, handled = _app(log)
    await queue.publish("waiting")
    app.request_shutdown()
    assert app.is_stopping is True
    await asyncio.wait_for(app.serve(), 5)  # without until_idle: it would serve forever
    assert log == ["open in", "startup hook", "shutdown hook", "close in"]  # no fetch
    assert handled == []
    assert queue.size() == 1
    # the request was used up: the next serve() runs normally
    assert app.is_stopping is False
    await serve_idle(app)
    assert handled == ["waiting"]


async def test_a_shutdown_requested_from_another_thread_before_serve_is_honoured() -> None:
    log: list[str] = []
    app, _, _ = _app(log)
    thread = threading.Thread(target=app.request_shutdown)
    thread.start()
    thread.join()
    await asyncio.wait_for(app.serve(), 5)
    assert "fetch in" not in log


async def test_a_shutdown_of_its_own_does_not_stop_the_next_serve() -> None:
    log: list[str] = []
    app, queue, handled = _app(log)
    await app.startup()
    await app.shutdown()  # asks every runner to stop, while none is running
    assert app.is_stopping is False
    await queue.publish(1)
    await serve_idle(app)
    assert handled == [1]


async def test_wait_for_shutdown_started_before_serve_is_woken_by_the_stop() -> None:
    app = OneStepApp("bg")
    queue = MemoryQueue("in", poll_interval_s=0.01)

    @app.task(source=queue)
    async def work(ctx, item):
        ctx.app.request_shutdown()

    waiting = asyncio.create_task(app.wait_for_shutdown())
    await asyncio.sleep(0.01)  # it waits before serve() starts (serve() used to drop it)
    await queue.publish(1)
    await asyncio.wait_for(app.serve(), 5)
    await asyncio.wait_for(waiting, 5)


async def test_wait_for_shutdown_outside_serve_is_woken_from_another_thread() -> None:
    app = OneStepApp("bg")
    waiting = asyncio.create_task(app.wait_for_shutdown())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    threading.Thread(target=app.request_shutdown).start()
    await asyncio.wait_for(waiting, 5)
