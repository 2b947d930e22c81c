"""An in-process queue that is both a Source and a Sink (tests, demos, fan-out).

Differences from onestep's MemoryQueue, all on purpose:

* a retry republishes the item with ``attempts + 1`` (so ``MaxAttempts`` ends);
* a delayed retry goes to a delay heap and becomes fetchable when due, instead of
  sleeping inside the worker (which held a concurrency slot for the whole delay);
* items are kept in a plain deque not bound to an event loop, so a queue filled in one
  ``asyncio.run`` is still full in the next one (onestep silently dropped them).

Publish from the event loop thread; it is not a thread-safe queue.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from typing import Any

from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.runtime.waiters import wait_woken
from django_onestep.core.validation import non_negative_int, positive_int, positive_number

__all__ = ["MemoryDelivery", "MemoryQueue"]


class MemoryDelivery(Delivery):
    """An item taken from a :class:`MemoryQueue`; ack and fail simply drop it."""

    def __init__(self, queue: MemoryQueue, envelope: Envelope) -> None:
        # Delivery.__init__ only sets ``envelope``; skipping the call saves time per item.
        self.envelope = envelope
        self._queue = queue

    async def ack(self) -> None:
        return None

    async def retry(self, *, delay_s: float | None = None) -> None:
        current = self.envelope
        again = Envelope(body=current.body, meta=dict(current.meta), attempts=current.attempts + 1)
        self._queue._requeue(again, delay_s)

    async def fail(self, exc: Exception | None = None) -> None:
        return None

    async def release_unstarted(self) -> None:
        # Never ran: give it back unchanged, at the front, without counting an attempt.
        self._queue._push_front(self.envelope)


class MemoryQueue(Source, Sink):
    """FIFO queue in process memory. ``maxsize=0`` means unbounded."""

    supports_manual_run = True

    def __init__(
        self,
        name: str,
        *,
        maxsize: int = 0,
        batch_size: int = 100,
        poll_interval_s: float = 0.1,
    ) -> None:
        non_negative_int("maxsize", maxsize)
        positive_int("batch_size", batch_size)
        positive_number("poll_interval_s", poll_interval_s)
        Source.__init__(self, name)
        Sink.__init__(self, name)
        self._maxsize = maxsize
        self.batch_size = batch_size
        self.poll_interval_s = float(poll_interval_s)
        self._ready: deque[Envelope] = deque()
        # (due monotonic time, tie-breaker, envelope): delayed retries not yet fetchable
        self._delayed: list[tuple[float, int, Envelope]] = []
        self._seq = itertools.count()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._putters: deque[asyncio.Future[None]] = deque()

    # -- Sink -------------------------------------------------------------------
    async def send(self, envelope: Envelope) -> None:
        while self._maxsize and len(self._ready) >= self._maxsize:
            await self._wait(self._putters, None)
        self._ready.append(envelope)
        self._wake(self._getters)

    def put_nowait(self, body: Any, *, meta: dict[str, Any] | None = None, attempts: int = 0) -> None:
        """Publish without awaiting (ignores ``maxsize``); for sync set-up code and tests."""
        self._ready.append(Envelope(body=body, meta=dict(meta or {}), attempts=attempts))
        self._wake(self._getters)

    # -- Source -----------------------------------------------------------------
    async def fetch(self, limit: int) -> list[Delivery]:
        if self._delayed:
            self._promote_due()
        if not self._ready:
            timeout_s = self.poll_interval_s
            if self._delayed:
                timeout_s = max(0.0, min(timeout_s, self._delayed[0][0] - time.monotonic()))
            await self._wait(self._getters, timeout_s)
            if self._delayed:
                self._promote_due()
            if not self._ready:
                return []
        ready = self._ready
        count = min(limit, self.batch_size, len(ready))
        if count < 1:
            count = 1
        popleft = ready.popleft
        batch: list[Delivery] = [MemoryDelivery(self, popleft()) for _ in range(count)]
        if self._putters:
            self._wake(self._putters)
        return batch

    # -- introspection ----------------------------------------------------------
    def size(self) -> int:
        """Items waiting: ready ones plus delayed retries not yet due."""
        return len(self._ready) + len(self._delayed)

    def pending_count(self) -> int:
        """Delayed retries not yet due (the runner's ``until_idle`` waits for them)."""
        return len(self._delayed)

    def drain_nowait(self) -> list[Envelope]:
        """Remove and return every ready envelope (tests use it to inspect a sink)."""
        items = list(self._ready)
        self._ready.clear()
        self._wake(self._putters)
        return items

    # -- internals ----------------------------------------------------------------
    def _requeue(self, envelope: Envelope, delay_s: float | None) -> None:
        if delay_s is not None and delay_s > 0:
            heapq.heappush(self._delayed, (time.monotonic() + delay_s, next(self._seq), envelope))
        else:
            self._ready.append(envelope)
        self._wake(self._getters)

    def _push_front(self, envelope: Envelope) -> None:
        self._ready.appendleft(envelope)
        self._wake(self._getters)

    def _promote_due(self) -> None:
        now = time.monotonic()
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            self._ready.append(heapq.heappop(delayed)[2])

    @staticmethod
    def _wake(waiters: deque[asyncio.Future[None]]) -> None:
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    @staticmethod
    async def _wait(waiters: deque[asyncio.Future[None]], timeout_s: float | None) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await wait_woken(waiter, timeout_s)
        finally:
            try:
                waiters.remove(waiter)
            except ValueError:
                pass
