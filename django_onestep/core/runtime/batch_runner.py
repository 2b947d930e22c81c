"""The fetch loop of a batch task: gather up to ``batch_size`` items, for at most
``batch_within_s`` after the first, then run them as one batch.

It is the one-item runner (drain, pause, stop, back-off, idle, shutdown are its code)
with two differences: a fetch gathers a batch, and one asyncio task runs a whole
batch, so ``concurrency`` counts batches in flight.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from django_onestep.core.base import Delivery
from django_onestep.core.runtime.batch_executor import BatchExecutor
from django_onestep.core.runtime.batching import DEFAULT_BATCH_WITHIN_S, check_batch_source
from django_onestep.core.runtime.task_runner import TaskRunner

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["BatchTaskRunner"]


class BatchTaskRunner(TaskRunner):
    def __init__(self, app: OneStepApp, task: TaskSpec, *, until_idle: bool = False) -> None:
        super().__init__(app, task, until_idle=until_idle)
        if task.batch_size is None:
            raise ValueError(f"task {task.name!r} is not a batch task")
        # The spec is mutable until it serves: check the source it serves with.
        check_batch_source(f"task {task.name!r}", task.batch_size, self.source)
        self.batch_size = task.batch_size
        self.batch_within_s = DEFAULT_BATCH_WITHIN_S if task.batch_within_s is None else task.batch_within_s
        self.batch_executor = BatchExecutor(app, task, self.logger)

    def _flush_success_summaries(self) -> None:
        super()._flush_success_summaries()
        self.batch_executor.outcome_log.flush_summary()

    async def _fetch(self, limit: int) -> list[Delivery] | None:
        """A whole batch, [] when the source had nothing, None when interrupted."""
        first = await super()._fetch(self.batch_size)
        if not first:
            return first
        batch = list(first)
        deadline = time.monotonic() + self.batch_within_s
        poll_s = float(self.source.poll_interval_s)
        while len(batch) < self.batch_size and (remaining_s := deadline - time.monotonic()) > 0:
            asked_at = time.monotonic()
            more = await self._fetch_within(self.batch_size - len(batch), remaining_s)
            if more is None:
                if self._stop_fetching():
                    await self._release_unstarted(batch)
                    return None
                break  # the source failed (and the runner backed off): run what we have
            batch += more
            # A source whose empty fetch returns at once must not be polled in a busy loop.
            wait_s = min(poll_s, deadline - time.monotonic())
            if not more and time.monotonic() - asked_at < wait_s * 0.9:
                await self._sleep(wait_s)
        return batch

    async def _fetch_within(self, limit: int, remaining_s: float) -> list[Delivery] | None:
        if not self.source.fetch_is_cancel_safe:
            return await super()._fetch(limit)  # may overrun the window by one poll interval
        window = asyncio.timeout(remaining_s)
        try:
            async with window:
                return await super()._fetch(limit)
        except TimeoutError:
            if window.expired():
                return []  # cancel-safe: the cut-off fetch took nothing
            raise

    async def _start(self, deliveries: list[Delivery]) -> None:
        hub = self._hub
        if hub.listening:
            try:
                for delivery in deliveries:
                    if pending := hub.dispatch(self.executor.fetched_event(delivery)):
                        await pending
            except asyncio.CancelledError:
                await self._release_unstarted(deliveries)
                raise
        handle = asyncio.get_running_loop().create_task(self.batch_executor.execute_batch(deliveries))
        self._inflight[handle] = deliveries[0]  # one entry per batch: concurrency counts batches
        self._running.add(handle)
        handle.add_done_callback(self._on_done)
        if self._lifecycle.has_waiters:
            self._lifecycle.notify()
