"""Acks that arrive while one commit runs share the next: one transaction for many rows.

A table queue settles a row with a few statements; one transaction per row would make
the database's commit rate the queue's ceiling. ``GroupCommit.submit(item)`` waits
until a commit that holds ``item`` is done (or raises its error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, commit: Callable[[list[T]], Awaitable[None]], *, max_batch: int = 500) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        await future

    async def drain(self) -> None:
        """Wait for the commits under way (a source closing)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the items of handlers finishing together join
        while self._waiting:
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            try:
                await self._commit([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
