"""Publisher confirms: one future per published message, settled by the broker's acks.

In confirm mode the broker numbers a channel's publishes 1, 2, 3... and acks (or nacks)
them, possibly many at once (``multiple``). A publish counts as done only when acked.

A ``mandatory`` publish that no queue binding matches comes back as a ``basic.return``
just before its ack. The return carries no publish number, so it is matched to the
oldest pending publish with the same exchange, routing key, message id and body; that
publish fails instead of being acked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["ConfirmTracker"]

# What a returned message is matched on: exchange, routing key, message id, body.
_Fingerprint = tuple[str, str, Any, bytes]


class ConfirmTracker:
    def __init__(
        self,
        nack_error: Callable[[], Exception],
        return_error: Callable[[Any, Any], Exception] | None = None,
    ) -> None:
        """``return_error(method, context)`` builds the error of a returned publish
        (``method`` is pika's ``Basic.Return``, ``context`` what ``next`` was given)."""
        self._nack_error = nack_error
        self._return_error = return_error
        self._seq = 0
        self._pending: dict[int, asyncio.Future[None]] = {}
        # Only mandatory publishes can come back, so only they are fingerprinted.
        self._returnable: dict[int, tuple[_Fingerprint, Any]] = {}

    def next(self, returnable: tuple[_Fingerprint, Any] | None = None) -> asyncio.Future[None]:
        """Call right after ``basic_publish``: the future of that publish's confirm.

        ``returnable`` is ``((exchange, routing_key, message_id, body), context)`` for a
        mandatory publish, so a ``basic.return`` of it fails this future.
        """
        self._seq += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[self._seq] = future
        if returnable is not None:
            self._returnable[self._seq] = returnable
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
            self._returnable.pop(tag, None)
            if future is None or future.done():
                continue
            if nacked:
                future.set_exception(self._nack_error())
            else:
                future.set_result(None)

    def on_return(self, method: Any, properties: Any, body: bytes) -> bool:
        """Fail the pending publish ``method`` returns; False when none matches."""
        fingerprint = (method.exchange, method.routing_key, getattr(properties, "message_id", None), body)
        # Returns arrive in publish order and before their ack, so the oldest pending
        # publish with this fingerprint is the returned one.
        for tag, (sent, context) in self._returnable.items():
            if sent == fingerprint:
                del self._returnable[tag]
                future = self._pending.pop(tag, None)
                if future is not None and not future.done() and self._return_error is not None:
                    future.set_exception(self._return_error(method, context))
                return True
        return False

    def fail_all(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        self._returnable.clear()
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
