"""How far a DatabaseQueue's idle polls back off: 50 ms where polls are the only
wake-up from other processes, 250 ms where PostgreSQL's NOTIFY wakes it."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection

from django_onestep.dbqueue.queue import DatabaseQueue
from tests.django.dbqueue_helpers import opened, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


async def one_idle_fetch_s(queue: DatabaseQueue) -> float:
    """Idle long enough to be fully backed off, then time one empty fetch (one idle wait)."""
    loop = asyncio.get_running_loop()
    async with opened(queue):
        assert await queue.fetch(1) == []
        await asyncio.sleep(1.5)  # the backed-off interval would be 0.01 * 2**6 s uncapped
        started = loop.time()
        assert await queue.fetch(1) == []
        return loop.time() - started


async def test_backed_off_idle_poll_is_50_ms_without_notify_and_250_ms_with_it() -> None:
    queue = DatabaseQueue(unique_name(), idle_backoff_after_s=0.0, fetch_wait_s=5.0)
    waited_s = await one_idle_fetch_s(queue)
    if connection.vendor == "postgresql":
        assert waited_s >= 0.2  # NOTIFY wakes it; polls are only the safety net
    else:
        assert waited_s < 0.2  # 50 ms (was 250 ms: p50 wake-up 125 ms on MariaDB)


async def test_max_idle_poll_s_still_sets_the_ceiling() -> None:
    queue = DatabaseQueue(unique_name(), idle_backoff_after_s=0.0, fetch_wait_s=5.0, max_idle_poll_s=0.3)
    assert await one_idle_fetch_s(queue) >= 0.25
