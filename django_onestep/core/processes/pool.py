"""The parent side: a bounded pool of child processes, each running one call at a time.

Children are started with ``spawn`` (a fork of a threaded asyncio worker is unsafe),
on first use, and reused. A call past its hard limit kills its child; a child that
retires or dies is replaced on the next call. Waiting for a reply watches the pipe on
the event loop, so a busy child holds no thread of the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from django_onestep.core.processes.child import child_main
from django_onestep.core.processes.child_context import ChildTaskContext
from django_onestep.core.processes.limits import ChildProcessDied, HardTimeLimitExceeded

__all__ = ["ProcessPool"]

logger = logging.getLogger("django_onestep.processes")


@dataclass(eq=False)  # identity: a child is one process
class _Child:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection

    @property
    def pid(self) -> int | None:
        pid: int | None = self.process.pid
        return pid


class ProcessPool:
    def __init__(
        self,
        name: str,
        *,
        size: int,
        setup_path: str | None = None,
        max_tasks_per_child: int | None = None,
        max_memory_per_child_mb: float | None = None,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.name = name
        self.size = size
        self.setup_path = setup_path
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_per_child_mb = max_memory_per_child_mb
        self.start_timeout_s = start_timeout_s
        self._slots = asyncio.Semaphore(size)
        self._idle: asyncio.Queue[_Child] = asyncio.Queue()
        self._busy: set[_Child] = set()
        self._alive = 0  # children started or starting, not yet stopped: at most ``size``
        self._starting: set[asyncio.Task[None]] = set()
        self.started_pids: list[int] = []  # every child ever started, for logs and tests

    def prewarm(self, count: int) -> None:
        """Start up to ``count`` children in the background, so first calls do not wait."""
        for _ in range(min(count, self.size - self._alive)):
            self._start_in_background()

    async def run(
        self,
        path: str,
        ctx: ChildTaskContext,
        payload: Any,
        *,
        soft_limit_s: float | None,
        hard_limit_s: float | None,
    ) -> Any:
        """Run ``path(ctx, payload)`` in a child; its result, or its exception re-raised."""
        async with self._slots:
            child = await self._take()
            self._busy.add(child)
            keep = False
            sent_at = time.monotonic()
            try:
                child.conn.send((path, ctx, payload, soft_limit_s))
                try:
                    reply = await self._receive(child, hard_limit_s)
                except TimeoutError:
                    raise HardTimeLimitExceeded(
                        f"the handler ran past its hard time limit (time_limit_s={hard_limit_s}): "
                        f"child process {child.pid} killed after {time.monotonic() - sent_at:.2f} s"
                    ) from None
                keep = not reply[-1]
                if reply[0] == "ok":
                    return reply[1]
                _, carried, type_name, message, text, _ = reply
                if isinstance(carried, BaseException):
                    raise carried
                raise ChildProcessDied(f"{type_name}: {message}\n{text}")
            finally:
                self._busy.discard(child)
                if keep:
                    self._idle.put_nowait(child)
                else:
                    await self._stop(child)
                    self._alive -= 1
                    self._start_in_background()  # its replacement, while the worker goes on

    async def _take(self) -> _Child:
        if self._idle.empty() and self._alive < self.size:
            self._alive += 1
            try:
                return await self._spawn()
            except BaseException:
                self._alive -= 1
                raise
        # every child is busy or starting; a slot was free, so one of them is starting
        return await self._idle.get()

    def _start_in_background(self) -> None:
        if self._alive >= self.size:
            return
        self._alive += 1

        async def start() -> None:
            try:
                self._idle.put_nowait(await self._spawn())
            except Exception as exc:  # the next call starts one itself, and reports why
                self._alive -= 1
                logger.warning("starting a child process for %s failed: %s", self.name, exc)
            except BaseException:
                self._alive -= 1
                raise

        task = asyncio.create_task(start(), name=f"onestep-{self.name}-child-start")
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _spawn(self) -> _Child:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=child_main,
            args=(child_end, self.setup_path, self.max_tasks_per_child, self.max_memory_per_child_mb),
            name=f"onestep-{self.name}-child",
        )
        await asyncio.to_thread(process.start)
        child_end.close()
        child = _Child(process, parent_end)
        try:
            reply = await self._receive(child, self.start_timeout_s)
        except BaseException:
            await self._stop(child)
            raise
        if reply[0] != "ready":
            await self._stop(child)
            raise ChildProcessDied(f"a child process could not start: {reply[1]}")
        if child.pid is not None:
            self.started_pids.append(child.pid)
        logger.debug("child process %s started for %s", child.pid, self.name)
        return child

    async def _receive(self, child: _Child, timeout_s: float | None) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = child.conn.fileno()

        def on_readable() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, on_readable)
        try:
            async with asyncio.timeout(timeout_s):
                await readable
        finally:
            loop.remove_reader(fd)
        try:
            reply: tuple[Any, ...] = child.conn.recv()
        except (EOFError, OSError):
            await asyncio.to_thread(child.process.join, 1.0)
            raise ChildProcessDied(
                f"child process {child.pid} exited (code {child.process.exitcode}) before it answered"
            ) from None
        return reply

    async def _stop(self, child: _Child) -> None:
        """End ``child`` now: a retiring child exits by itself, any other is killed."""
        if child.process.is_alive():
            await asyncio.to_thread(child.process.join, 0.5)
        if child.process.is_alive():
            child.process.kill()
            await asyncio.to_thread(child.process.join, 5.0)
        child.conn.close()
        with contextlib.suppress(ValueError):  # already closed
            child.process.close()

    async def close(self) -> None:
        """Ask idle children to exit and kill the ones that do not within a second."""
        for task in list(self._starting):
            task.cancel()
        await asyncio.gather(*self._starting, return_exceptions=True)
        idle: list[_Child] = []
        while not self._idle.empty():
            idle.append(self._idle.get_nowait())
        for child in idle:
            with contextlib.suppress(OSError):
                child.conn.send(None)
        for child in idle:
            await asyncio.to_thread(child.process.join, 1.0)
            await self._stop(child)
        for child in list(self._busy):  # calls not cancelled: the worker is going away
            if child.process.is_alive():
                child.process.kill()
