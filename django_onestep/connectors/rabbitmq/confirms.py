"""Publisher confirms: one future per published message, settled by the broker's acks.

In confirm mode the broker numbers a channel's publishes 1, 2, 3... and acks (or nacks)
them, possibly many at once (``multiple``). A publish counts as done only when acked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["ConfirmTracker"]


class ConfirmTracker:
    def __init__(self, nack_error: Callable[[], Exception]) -> None:
        self._nack_error = nack_error
        self._seq = 0
        self._pending: dict[int, asyncio.Future[None]] = {}

    def next(self) -> asyncio.Future[None]:
        """Call right after ``basic_publish``: the future of that publish's confirm."""
        self._seq += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[self._seq] = future
        return future

    def on_confirm(self, frame: Any) -> None:
        import pika.spec

        method = frame.method
        if method.multiple:
            tags = [tag for tag in self._pending if tag <= method.delivery_tag]
        else:
            tags = [method.delivery_tag]
        nacked = isinstance(method, pika.spec.Basic.Nack)
        for tag in tags:
            future = self._pending.pop(tag, None)
            if future is None or future.done():
                continue
            if nacked:
                future.set_exception(self._nack_error())
            else:
                future.set_result(None)

    def fail_all(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
