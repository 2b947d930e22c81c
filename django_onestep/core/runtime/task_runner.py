"""The fetch loop of one task: fetch up to the free concurrency, start deliveries,
park on drain/pause, back off on connector errors, drain in-flight work at shutdown.

Hot-path notes (see benchmarks/memory_queue.py): a cancel-safe fetch is awaited in
the runner's own task and interrupted by cancelling that task (no helper task per
fetch); one asyncio task per delivery; events are only built when someone listens.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Delivery
from django_onestep.core.errors import ConnectorOperationError
from django_onestep.core.runtime.executor import DeliveryExecutor
from django_onestep.core.runtime.sinks import connector_retry_delay_s
from django_onestep.core.runtime.waiters import wait_woken

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["TaskRunner"]

# After cancelling in-flight work at shutdown, how long its cancel handlers (which hand
# the items back to their sources) may take before the app closes the connectors.
CANCEL_GRACE_S = 5.0


class TaskRunner:
    def __init__(self, app: OneStepApp, task: TaskSpec, *, until_idle: bool = False) -> None:
        if task.source is None:
            raise ValueError(f"task {task.name!r} has no source to run")
        self.app = app
        self.task = task
        self.source = task.source
        self.until_idle = until_idle
        self.logger = logging.getLogger(f"onestep.{app.name}.{task.name}")
        self.executor = DeliveryExecutor(app, task, self.logger)
        self.executor.handler_returned = self._handler_returned
        self._lifecycle = app.runtime.lifecycle
        self._hub = app.runtime.hub
        self._inflight: dict[asyncio.Task[None], Delivery] = {}
        # The in-flight deliveries whose handler has not returned yet: the ones that
        # count against ``concurrency`` (above 1). The others only wait for their ack to
        # be written: ``max(concurrency, source batch_size)`` more deliveries may be in
        # flight for that, so that a durable ack (a database commit) does not hold a
        # handler slot for its whole round trip.
        self._running: set[asyncio.Task[None]] = set()
        self._source_batch = int(getattr(self.source, "batch_size", 1) or 1)
        self.is_fetching = False
        self.is_drain_parked = False
        self.is_pause_parked = False
        self.idle = False
        self.idle_polls = 0  # empty polls while idle (serve() confirms idleness with them)
        self.stop_when_idle = False  # set by serve() when this is the only runner
        self.stop_requested = False  # this runner alone stops (stop_task_runner)
        self._waiter: asyncio.Future[None] | None = None
        self._runner_task: asyncio.Task[Any] | None = None
        self._fetch_interruptible = False
        self._interrupted = False
        self._degraded_fetches = 0  # consecutive retryable fetch failures

    @property
    def inflight_count(self) -> int:
        return len(self._inflight)

    @property
    def fetch_failures(self) -> int:
        """Consecutive failed fetches (0 once one succeeds): the worker's readiness probe
        reports a task whose broker is unreachable."""
        return self._degraded_fetches

    # -- wake-ups (loop thread) -----------------------------------------------------------
    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def stop(self) -> None:
        """Stop this runner the way a shutdown stops all of them (loop thread)."""
        self.stop_requested = True
        self.interrupt_fetch()

    def _should_stop(self) -> bool:
        return self.stop_requested or self._lifecycle.stopping

    def interrupt_fetch(self) -> None:
        """Stop a fetch in progress (stop, drain or pause was requested)."""
        if self._fetch_interruptible and not self._interrupted and self._runner_task is not None:
            self._interrupted = True
            self._runner_task.cancel()
        self.wake()

    async def _sleep(self, timeout_s: float | None) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await wait_woken(waiter, timeout_s)
        finally:
            self._waiter = None

    def _set_flag(self, name: str, value: bool) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self._lifecycle.notify()

    # -- main loop ------------------------------------------------------------------------
    async def run(self) -> None:
        self._runner_task = asyncio.current_task()
        lifecycle = self._lifecycle
        task = self.task
        poll_s = float(self.source.poll_interval_s)
        hard_stop = False
        try:
            while not self._should_stop():
                if lifecycle.draining:
                    if self._inflight:
                        await self._sleep(poll_s)
                        continue
                    self._set_flag("is_pause_parked", False)
                    self._set_flag("is_drain_parked", True)
                    while not self._should_stop():  # parked until the stop
                        await self._sleep(None)
                    break
                if lifecycle.is_paused(task.name):
                    if self._inflight:
                        await self._sleep(poll_s)
                        continue
                    self._set_flag("is_drain_parked", False)
                    self._set_flag("is_pause_parked", True)
                    await self._sleep(poll_s)
                    continue
                if self.is_pause_parked:
                    self._set_flag("is_pause_parked", False)
                    await self._resume_source_after_pause()
                concurrency = task.concurrency
                available = min(
                    concurrency - len(self._running),
                    concurrency + max(concurrency, self._source_batch) - len(self._inflight),
                )
                if available <= 0:
                    await self._sleep(poll_s)
                    continue
                started = time.monotonic()
                deliveries = await self._fetch(available)
                if not deliveries:
                    # None: the fetch was interrupted or failed, which is not "idle".
                    if (
                        self.until_idle
                        and deliveries is not None
                        and not self._inflight
                        and not self._source_pending()
                    ):
                        # serve() stops every runner once all of them are idle together;
                        # this one keeps polling meanwhile (another task may feed it).
                        self.idle = True
                        self.idle_polls += 1
                        lifecycle.notify()
                        if self.stop_when_idle:
                            break
                    # A source whose fetch already waited a full poll interval is not
                    # polled again after a pause: that would only add latency.
                    if time.monotonic() - started < poll_s * 0.9 and not self._stop_fetching():
                        await self._sleep(poll_s)
                    continue
                self.idle = False
                await self._start(deliveries)
        except asyncio.CancelledError:
            hard_stop = True  # serve() itself was cancelled: do not wait for in-flight work
            raise
        finally:
            self.is_drain_parked = False
            self.is_pause_parked = False
            self.is_fetching = False
            await self._drain_inflight(wait=not hard_stop)
            self._flush_success_summaries()
            self._lifecycle.notify()

    def _flush_success_summaries(self) -> None:
        self.executor.outcome_log.flush_summary()

    def _source_pending(self) -> bool:
        pending = getattr(self.source, "pending_count", None)
        if not callable(pending):
            return False
        try:
            return bool(pending())
        except Exception:
            self.logger.exception("source pending_count() failed")
            return False

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
        execute = self.executor.execute
        inflight = self._inflight
        on_done = self._on_done
        create_task = asyncio.get_running_loop().create_task
        running = self._running
        for delivery in deliveries:
            handle = create_task(execute(delivery))
            inflight[handle] = delivery
            running.add(handle)
            handle.add_done_callback(on_done)
        if self._lifecycle.has_waiters:
            self._lifecycle.notify()

    def _handler_returned(self) -> None:
        if self.task.concurrency == 1:
            # one after another means each job acked before the next starts: in order,
            # also when the worker is killed in between
            return
        handle = asyncio.current_task()
        if handle in self._running:
            self._running.discard(handle)
            self.wake()

    def _on_done(self, handle: asyncio.Task[None]) -> None:
        self._inflight.pop(handle, None)
        self._running.discard(handle)
        if not handle.cancelled():
            exc = handle.exception()
            if exc is not None:
                self.logger.error("delivery settlement failed", exc_info=exc)
        self.wake()
        if self._lifecycle.has_waiters:
            self._lifecycle.notify()

    # -- fetching -----------------------------------------------------------------------
    def _stop_fetching(self) -> bool:
        lifecycle = self._lifecycle
        return self._should_stop() or lifecycle.draining or lifecycle.is_paused(self.task.name)

    async def _fetch(self, limit: int) -> list[Delivery] | None:
        """Fetched deliveries, [] when the source had nothing, None when interrupted or failed."""
        if self._stop_fetching():
            return None
        source = self.source
        self.is_fetching = True
        if self._lifecycle.has_waiters:
            self._lifecycle.notify()
        try:
            if source.fetch_is_cancel_safe:
                self._fetch_interruptible = True
                try:
                    deliveries = await source.fetch(limit)
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if self._interrupted and current is not None and current.uncancel() == 0:
                        return None  # our own interrupt; nothing was taken
                    raise
                finally:
                    self._fetch_interruptible = False
                    self._interrupted = False
            else:
                deliveries = await source.fetch(limit)
                if self._stop_fetching():
                    await self._release_unstarted(deliveries)
                    return None
            if self._degraded_fetches:
                self.logger.warning(
                    "source fetch recovered", extra={"failed_fetch_count": self._degraded_fetches}
                )
                self._degraded_fetches = 0
            return deliveries
        except ConnectorOperationError as exc:
            if not exc.retryable:
                raise
            await self._back_off(exc)
            return None
        finally:
            self.is_fetching = False
            if self._lifecycle.has_waiters:
                self._lifecycle.notify()

    async def _back_off(self, exc: ConnectorOperationError) -> None:
        delay_s = connector_retry_delay_s(exc, fallback_s=float(self.source.poll_interval_s))
        self._degraded_fetches += 1
        # The traceback once per outage: a server down for minutes must not flood the log.
        self.logger.warning(
            "source fetch degraded; backing off",
            extra={
                "connector_backend": exc.backend,
                "connector_operation": exc.operation.value,
                "connector_kind": exc.kind.value,
                "connector_retry_delay_s": delay_s,
                "failed_fetch_count": self._degraded_fetches,
            },
            exc_info=exc if self._degraded_fetches == 1 else None,
        )
        deadline = time.monotonic() + delay_s
        while not self._should_stop() and (remaining_s := deadline - time.monotonic()) > 0:
            await self._sleep(remaining_s)  # a stop wakes it

    async def _release_unstarted(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            try:
                await delivery.release_unstarted()
            except Exception:
                self.logger.exception("releasing unstarted delivery failed")

    async def _resume_source_after_pause(self) -> None:
        hook = getattr(self.source, "resume_after_pause", None)
        if callable(hook):
            result = hook()
            if inspect.isawaitable(result):
                await result

    # -- shutdown -----------------------------------------------------------------------
    async def _drain_inflight(self, *, wait: bool = True) -> None:
        if not self._inflight:
            return
        timeout_s = self.app.shutdown_timeout_s
        pending: set[asyncio.Task[None]] = set(self._inflight)
        if wait:
            _, pending = await asyncio.wait(pending, timeout=timeout_s)
        if not pending:
            return
        self.logger.warning(
            "shutdown timeout reached; cancelling in-flight deliveries (they will be retried)",
            extra={"inflight_task_count": len(pending), "shutdown_timeout_s": timeout_s},
        )
        for handle in pending:
            handle.cancel()
        _, still = await asyncio.wait(pending, timeout=CANCEL_GRACE_S)
        if still:
            self.logger.error(
                "in-flight deliveries did not finish cancelling",
                extra={"inflight_task_count": len(still)},
            )
