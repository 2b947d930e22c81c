"""Batched deletes and the visibility heartbeat of one SQS queue.

* Deletes: ``ack`` only stages a receipt handle; one ``DeleteMessageBatch`` (<= 10)
  goes out when ``delete_batch_size`` are staged or every ``delete_flush_interval_s``.
  Partial failures are handled per entry: an invalid/expired receipt handle is dropped
  (SQS shows the message again: at-least-once), a server-side failure is retried.
* Heartbeat: every ``heartbeat_interval_s`` one ``ChangeMessageVisibilityBatch`` per 10
  in-flight messages pushes their visibility to ``heartbeat_visibility_timeout``, so a
  handler longer than the queue's visibility timeout is not redelivered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LeaseKeeper"]

logger = logging.getLogger("django_onestep.connectors.sqs.connector")

_SQS_BATCH_MAX = 10
_MAX_DELETE_TRIES = 5

Call = Callable[..., Awaitable[Any]]


@dataclass
class _PendingDelete:
    receipt_handle: str
    tries: int = 0


class LeaseKeeper:
    def __init__(
        self,
        *,
        url: str,
        call: Call,
        delete_batch_size: int,
        delete_flush_interval_s: float,
        heartbeat_interval_s: float,
        heartbeat_visibility_timeout: int,
    ) -> None:
        self.url = url
        self._call = call  # runs a boto3 client method in the connector's threads
        self.delete_batch_size = delete_batch_size
        self.delete_flush_interval_s = delete_flush_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.heartbeat_visibility_timeout = heartbeat_visibility_timeout
        self._pending: list[_PendingDelete] = []
        self._inflight: dict[str, str] = {}  # message id -> receipt handle
        self._flush_lock = asyncio.Lock()
        # Held while a heartbeat batch is out, so a retry's visibility change lands after it.
        self.visibility_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.deleted_count = 0
        self.dropped_deletes = 0

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._flush_loop(), name=f"sqs-deletes {self.url}"))
        if self.heartbeat_interval_s > 0:
            self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name=f"sqs-heartbeat {self.url}"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # A flush cancelled mid-call put its batch back (see _delete_batch): send it now.
        await self.flush()

    # ---------------------------------------------------------------- in flight
    def track(self, message_id: str, receipt_handle: str) -> None:
        self._inflight[message_id] = receipt_handle

    def untrack(self, message_id: str) -> None:
        self._inflight.pop(message_id, None)

    @property
    def inflight_count(self) -> int:
        return len(self._inflight)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval_s)
            try:
                await self.heartbeat()
            except Exception as exc:  # keep beating; the next round may reach SQS again
                logger.warning("sqs %s: visibility heartbeat failed: %s", self.url, type(exc).__name__)

    async def heartbeat(self) -> None:
        async with self.visibility_lock:
            items = list(self._inflight.items())
            for start in range(0, len(items), _SQS_BATCH_MAX):
                chunk = items[start : start + _SQS_BATCH_MAX]
                entries = [
                    {
                        "Id": str(i),
                        "ReceiptHandle": handle,
                        "VisibilityTimeout": self.heartbeat_visibility_timeout,
                    }
                    for i, (_mid, handle) in enumerate(chunk)
                ]
                response = await self._call(
                    "change_message_visibility_batch", QueueUrl=self.url, Entries=entries
                )
                for failed in response.get("Failed", []):
                    message_id = chunk[int(failed["Id"])][0]
                    logger.warning(
                        "sqs %s: could not extend message %s (%s): it may be delivered again",
                        self.url,
                        message_id,
                        failed.get("Code"),
                    )

    # ------------------------------------------------------------------ deletes
    async def stage_delete(self, receipt_handle: str) -> None:
        self._pending.append(_PendingDelete(receipt_handle))
        if len(self._pending) >= self.delete_batch_size and not self._flush_lock.locked():
            # Flush in the background: an ack must not hold the task slot for a round trip.
            task = asyncio.create_task(self.flush())
            task.add_done_callback(_log_task_failure)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.delete_flush_interval_s)
            try:
                await self.flush()
            except Exception as exc:
                logger.warning("sqs %s: delete flush failed, will retry: %s", self.url, type(exc).__name__)

    async def flush(self) -> None:
        async with self._flush_lock:
            while self._pending:
                batch, self._pending = self._pending[:_SQS_BATCH_MAX], self._pending[_SQS_BATCH_MAX:]
                await self._delete_batch(batch)

    async def _delete_batch(self, batch: list[_PendingDelete]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": p.receipt_handle} for i, p in enumerate(batch)]
        try:
            response = await self._call("delete_message_batch", QueueUrl=self.url, Entries=entries)
        except asyncio.CancelledError:
            # Stopped mid-call: the delete may never have been sent. Stage the batch again
            # (not as a failed try): deleting a message twice is harmless, never deleting
            # it runs it again once its visibility timeout ends.
            self._pending[:0] = batch
            raise
        except Exception:
            self._requeue(batch)
            raise
        failed = response.get("Failed", [])
        self.deleted_count += len(batch) - len(failed)
        retry: list[_PendingDelete] = []
        for item in failed:
            pending = batch[int(item["Id"])]
            if item.get("SenderFault", True):
                # Expired or foreign receipt handle: retrying cannot help. The message
                # becomes visible again and runs once more (at-least-once, never lost).
                self.dropped_deletes += 1
                logger.warning(
                    "sqs %s: delete rejected (%s): the message will be delivered again",
                    self.url,
                    item.get("Code"),
                )
            else:
                retry.append(pending)
        self._requeue(retry)

    def _requeue(self, batch: list[_PendingDelete]) -> None:
        for pending in batch:
            pending.tries += 1
            if pending.tries < _MAX_DELETE_TRIES:
                self._pending.append(pending)
            else:
                self.dropped_deletes += 1
                logger.error(
                    "sqs %s: gave up deleting a message after %d tries: it will be delivered again",
                    self.url,
                    pending.tries,
                )


def _log_task_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("sqs delete flush failed, will retry: %s", type(task.exception()).__name__)
