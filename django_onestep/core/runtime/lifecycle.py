"""Run-state of an app: stop/drain/pause flags, thread-safe requests and waiters.

Every ``request_*`` may be called from any thread (sync handlers run in worker threads,
signal handlers interrupt the loop thread): the flag is set at once, and the work that
touches asyncio objects is handed to the loop with ``call_soon_threadsafe``, which
also wakes a loop sleeping in ``select``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django_onestep.core.runtime.waiters import resolve, wait_woken

if TYPE_CHECKING:
    from django_onestep.core.runtime.task_runner import TaskRunner

__all__ = ["Lifecycle"]


class Lifecycle:
    def __init__(self) -> None:
        self.stopping = False
        self.drain_requested = False
        self.paused: set[str] = set()
        self.serving = False
        self.runners: list[TaskRunner] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._stop_waiters: list[asyncio.Future[None]] = []

    # -- binding to the serving loop ---------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self.stopping = False
        self.drain_requested = False
        self.paused = set()
        self.runners = []
        self._waiters = []
        self._stop_waiters = []

    def unbind(self) -> None:
        self.runners = []
        self.serving = False
        self._loop = None
        self._loop_thread = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._loop

    def _dispatch(self, func: Callable[[], None], *, force_threadsafe: bool = False) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if not force_threadsafe and threading.get_ident() == self._loop_thread:
            func()
        else:
            try:
                loop.call_soon_threadsafe(func)
            except RuntimeError:  # loop closed between the check and the call
                pass

    # -- flags --------------------------------------------------------------------------
    @property
    def draining(self) -> bool:
        return self.drain_requested and not self.stopping

    def is_paused(self, task_name: str) -> bool:
        return task_name in self.paused and not self.stopping

    # -- requests (any thread) ----------------------------------------------------------
    def request_stop(self, *, from_signal: bool = False) -> None:
        self.stopping = True
        self._dispatch(self._on_stop, force_threadsafe=from_signal)

    def request_drain(self) -> None:
        self.drain_requested = True
        self._dispatch(self._interrupt_all)

    def request_pause(self, task_name: str) -> None:
        self.paused.add(task_name)
        self._dispatch(lambda: self._interrupt(task_name))

    def request_resume(self, task_name: str) -> None:
        self.paused.discard(task_name)
        self._dispatch(lambda: self._wake(task_name))

    # -- loop-thread reactions ----------------------------------------------------------
    def _on_stop(self) -> None:
        waiters, self._stop_waiters = self._stop_waiters, []
        for waiter in waiters:
            resolve(waiter)
        self._interrupt_all()

    def _interrupt_all(self) -> None:
        for runner in self.runners:
            runner.interrupt_fetch()
        self.notify()

    def _interrupt(self, task_name: str) -> None:
        for runner in self.runners:
            if runner.task.name == task_name:
                runner.interrupt_fetch()
        self.notify()

    def _wake(self, task_name: str) -> None:
        for runner in self.runners:
            if runner.task.name == task_name:
                runner.wake()
        self.notify()

    def notify(self) -> None:
        """Wake every ``wait_change`` waiter (loop thread only)."""
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                resolve(waiter)

    @property
    def has_waiters(self) -> bool:
        return bool(self._waiters)

    # -- waiting (loop thread) ----------------------------------------------------------
    async def wait_change(self, timeout_s: float | None = None) -> None:
        """Return after the next state change (runner parked, inflight done, ...)."""
        await self._wait(self._waiters, timeout_s)

    async def wait_stopping(self, timeout_s: float | None) -> bool:
        """Wait up to ``timeout_s`` (None: forever) for a stop request; True if stopping."""
        if not self.stopping:
            await self._wait(self._stop_waiters, timeout_s)
        return self.stopping

    @staticmethod
    async def _wait(waiters: list[asyncio.Future[None]], timeout_s: float | None) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await wait_woken(waiter, timeout_s)
        finally:
            if waiter in waiters:
                waiters.remove(waiter)

    def runner_for(self, task_name: str) -> list[TaskRunner]:
        return [runner for runner in self.runners if runner.task.name == task_name]

    def describe(self) -> dict[str, Any]:
        return {"serving": self.serving, "stopping": self.stopping, "draining": self.draining}
