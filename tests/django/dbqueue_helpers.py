"""Shared bits of the DatabaseQueue tests (both databases)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from asgiref.sync import sync_to_async

from django_onestep.dbqueue.queue import DatabaseQueue


def unique_name(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def orm(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run sync ORM code from an async test (in a thread; its connection closed after)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        from django.db import connections

        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(call, thread_sensitive=False)


@asynccontextmanager
async def opened(*queues: DatabaseQueue) -> AsyncIterator[None]:
    for queue in queues:
        await queue.open()
    try:
        yield
    finally:
        for queue in queues:
            await queue.close()


async def fetch_until(queue: DatabaseQueue, count: int, *, timeout_s: float = 30.0) -> list[Any]:
    """Fetch until ``count`` deliveries arrived (robust to a slow, shared machine)."""
    got: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(got) < count:
        if loop.time() > deadline:
            raise AssertionError(f"only {len(got)} of {count} deliveries within {timeout_s}s")
        got.extend(await queue.fetch(count - len(got)))
    return got


def job_rows(queue_name: str) -> list[dict[str, Any]]:
    from django_onestep.models import Job

    return list(Job.objects.filter(queue=queue_name).order_by("id").values())


def run_in_threads(fn: Callable[[], Any], count: int, *, timeout_s: float = 120.0) -> list[BaseException]:
    """Run ``fn`` in ``count`` threads at once, each with its own DB connection closed
    after; return what they raised (the caller asserts it is empty)."""
    import threading

    from django.db import connections

    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # reported to the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout_s)
    assert not any(thread.is_alive() for thread in threads), f"threads still running after {timeout_s}s"
    return errors
