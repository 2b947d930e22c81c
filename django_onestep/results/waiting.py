"""Waiting for a job to finish: poll its row with backoff, never inside a transaction.

A poll is one autocommit ``SELECT`` by primary key, at growing intervals (10 ms up to
0.5 s). On PostgreSQL the wait LISTENs for the job's end (``notify.py``) and reads
the row when notified, or every 2 s as a safety net. Inside ``transaction.atomic()`` a poll could keep reading one snapshot
(MySQL's REPEATABLE READ), and a job enqueued in that transaction does not exist for
workers until it commits, so waiting there is refused with a message saying so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "apoll_until",
    "can_listen",
    "closing_connections",
    "listen_until",
    "poll_until",
    "refuse_transaction",
]

FIRST_POLL_S = 0.01
MAX_POLL_S = 0.5
BACKOFF = 1.5
LISTENING_POLL_S = 2.0  # with PostgreSQL notifications, the safety-net poll


def refuse_transaction(using: str, job_id: int) -> None:
    from django.db import connections

    if connections[using].in_atomic_block:
        raise RuntimeError(
            f"JobHandle.wait(): job {job_id} cannot finish while this transaction is open; "
            "wait after transaction.atomic() has committed"
        )


def poll_until(done: Callable[[], bool], timeout: float | None) -> bool:
    """Call ``done()`` until it is true (True) or ``timeout`` seconds passed (False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay_s = FIRST_POLL_S
    while not done():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return False
        time.sleep(delay_s if deadline is None else min(delay_s, deadline - now))
        delay_s = min(delay_s * BACKOFF, MAX_POLL_S)
    return True


def listen_until(done: Callable[[], bool], heard: Callable[[float], bool], timeout: float | None) -> bool:
    """``poll_until``, woken by ``heard(seconds)`` (a notification) between reads."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done():
        wait_s = LISTENING_POLL_S
        if deadline is not None:
            wait_s = min(wait_s, deadline - time.monotonic())
            if wait_s <= 0:
                return False
        heard(wait_s)
    return True


async def apoll_until(done: Callable[[], Awaitable[bool]], timeout_s: float | None) -> bool:
    loop = asyncio.get_running_loop()
    deadline = None if timeout_s is None else loop.time() + timeout_s
    delay_s = FIRST_POLL_S
    while not await done():
        now = loop.time()
        if deadline is not None and now >= deadline:
            return False
        await asyncio.sleep(delay_s if deadline is None else min(delay_s, deadline - now))
        delay_s = min(delay_s * BACKOFF, MAX_POLL_S)
    return True


def can_listen(using: str) -> bool:
    from django.db import connections

    return bool(connections[using].vendor == "postgresql")


def closing_connections(wait: Callable[[float | None], Any]) -> Callable[[float | None], Any]:
    """``wait`` in a one-off thread, whose database connection is closed after."""

    def run(timeout: float | None) -> Any:
        from django.db import connections

        try:
            return wait(timeout)
        finally:
            connections.close_all()

    return run
