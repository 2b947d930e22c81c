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
        self.restart_requested = False
        self.drain_requested = False
        self.paused: set[str] = set()
        self.serving = False
        self.runners: list[TaskRunner] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # Waiters are never dropped: a coroutine may start waiting before serve() or
        # between two serve() calls. Each list is only ever cleared in place.
        self._waiters: list[asyncio.Future[None]] = []  # runner state changes
        self._stop_waiters: list[asyncio.Future[None]] = []
        self._control_waiters: list[asyncio.Future[None]] = []  # requests, runners coming/going

    # -- binding to the serving loop ---------------------------------------------------
    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        # A stop (or restart) requested before serve() is honoured by this serve(), so
        # ``stopping`` is not reset here but when the serve() that honoured it ends.
        if not self.stopping:
            self.restart_requested = False
        self.drain_requested = False
        self.paused = set()
        self.runners = []

    def unbind(self) -> None:
        self.runners = []
        self.serving = False
        self.stopping = False
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
        self._requested(self._interrupt_all, self._stop_waiters, force_threadsafe=from_signal)

    def request_restart(self) -> None:
        """A stop that asks whoever runs the app to start it again (``restart_requested``)."""
        self.restart_requested = True
        self.request_stop()

    def request_drain(self) -> None:
        self.drain_requested = True
        self._requested(self._interrupt_all)

    def request_pause(self, task_name: str) -> None:
        self.paused.add(task_name)
        self._requested(lambda: self._interrupt(task_name))

    def request_resume(self, task_name: str) -> None:
        self.paused.discard(task_name)
        self._requested(lambda: self._wake(task_name))

    def _requested(
        self,
        on_loop: Callable[[], None],
        waiters: list[asyncio.Future[None]] | None = None,
        *,
        force_threadsafe: bool = False,
    ) -> None:
        # The flag is already set: whoever waits sees it once woken. Waiters may sit in
        # any loop (serving or not), runners only in the serving one.
        if waiters is not None:
            _wake_all(waiters, force_threadsafe=force_threadsafe)
        _wake_all(self._control_waiters, force_threadsafe=force_threadsafe)
        if self._loop is None:
            _wake_all(self._waiters, force_threadsafe=force_threadsafe)
        else:
            self._dispatch(on_loop, force_threadsafe=force_threadsafe)

    # -- loop-thread reactions ----------------------------------------------------------
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
            waiters = self._waiters.copy()
            self._waiters.clear()
            for waiter in waiters:
                resolve(waiter)

    def notify_control(self) -> None:
        """Wake every ``wait_control``/``wait_until`` waiter (loop thread only)."""
        if self._control_waiters:
            waiters = self._control_waiters.copy()
            self._control_waiters.clear()
            for waiter in waiters:
                resolve(waiter)

    @property
    def has_waiters(self) -> bool:
        return bool(self._waiters)

    # -- waiting (loop thread) ----------------------------------------------------------
    async def wait_change(self, timeout_s: float | None = None) -> None:
        """Return after the next state change (runner parked, inflight done, ...)."""
        await self._wait(self._waiters, timeout_s)

    async def wait_control(self) -> None:
        """Return after the next request (stop, drain, pause, ...) or runner start/end."""
        await self._wait(self._control_waiters, None)

    async def wait_stopping(self, timeout_s: float | None) -> bool:
        """Wait up to ``timeout_s`` (None: forever) for a stop request; True if stopping."""
        await self._wait(self._stop_waiters, timeout_s, done=lambda: self.stopping)
        return self.stopping

    async def wait_until(self, requested: Callable[[], bool]) -> None:
        """Return once ``requested()`` holds; it is checked again after every request."""
        while True:
            await self._wait(self._control_waiters, None, done=requested)
            if requested():
                return

    @staticmethod
    async def _wait(
        waiters: list[asyncio.Future[None]],
        timeout_s: float | None,
        *,
        done: Callable[[], bool] | None = None,
    ) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            # Checked after joining the list: a request from another thread sets its flag
            # before it wakes the list, so it is either seen here or wakes this waiter.
            if done is not None and done():
                return
            await wait_woken(waiter, timeout_s)
        finally:
            if waiter in waiters:
                waiters.remove(waiter)

    def runner_for(self, task_name: str) -> list[TaskRunner]:
        return [runner for runner in self.runners if runner.task.name == task_name]

    def describe(self) -> dict[str, Any]:
        return {"serving": self.serving, "stopping": self.stopping, "draining": self.draining}


def _wake_all(waiters: list[asyncio.Future[None]], *, force_threadsafe: bool = False) -> None:
    """Resolve each waiter in its own loop: at once when that loop runs in this thread,
    else through ``call_soon_threadsafe`` (always from a signal handler)."""
    if not waiters:
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for waiter in waiters.copy():
        loop = waiter.get_loop()
        if loop is running and not force_threadsafe:
            resolve(waiter)
            continue
        try:
            loop.call_soon_threadsafe(resolve, waiter)
        except RuntimeError:  # that loop is closed: nobody waits any more
            pass
