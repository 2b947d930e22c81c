"""Futures used as wake-up signals: whoever holds one may resolve it (once), and the
waiter also wakes when its timeout passes. The runner, the lifecycle and MemoryQueue
all sleep this way, so an event (a new item, a stop request) ends the sleep at once.
"""

from __future__ import annotations

import asyncio

__all__ = ["resolve", "wait_woken"]


def resolve(waiter: asyncio.Future[None]) -> None:
    """Wake ``waiter`` unless it is already done (safe to call more than once)."""
    if not waiter.done():
        waiter.set_result(None)


async def wait_woken(waiter: asyncio.Future[None], timeout_s: float | None) -> None:
    """Wait until ``waiter`` is resolved, or ``timeout_s`` passed (None: no timeout)."""
    handle = waiter.get_loop().call_later(timeout_s, resolve, waiter) if timeout_s is not None else None
    try:
        await waiter
    finally:
        if handle is not None:
            handle.cancel()
