"""``ctx.set_progress()`` for a database-queue job: the latest value, written at a bounded rate.

A handler may report progress in a tight loop; each job writes at most once per
``DatabaseQueue(progress_interval_s=...)``: the first report at once, later ones when
the interval has passed (a timer writes the last one of a burst), and any pending value
before the job settles. Writes go to the queue's write thread, fenced on the claim
token like settlements, so a late write after the job settled changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django_onestep.dbqueue.claims import dt, table_sql
from django_onestep.dbqueue.settle import json_param

if TYPE_CHECKING:
    from django_onestep.dbqueue.queue import DatabaseQueue

__all__ = ["ProgressWriter"]


def write_progress(using: str, job_id: int, token: str, progress_json: str) -> None:
    from django.db import connections
    from django.utils import timezone

    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table_sql(connection)} SET progress = {json_param(connection)}, updated_at = %s "
            "WHERE id = %s AND claim_token = %s AND status = 'running'",
            [progress_json, dt(connection, timezone.now()), job_id, token],
        )


class ProgressWriter:
    """The progress of one delivery; ``report`` is safe from any thread."""

    def __init__(self, queue: DatabaseQueue, job_id: int, token: str) -> None:
        self._queue = queue
        self._job_id = job_id
        self._token = token
        self._lock = threading.Lock()
        self._pending: str | None = None
        self._last_write = float("-inf")
        self._timer_armed = False

    def report(self, progress: Mapping[str, Any]) -> None:
        try:
            text = json.dumps(dict(progress), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"set_progress(): values must be JSON serializable ({exc})") from None
        with self._lock:
            self._pending = text
            wait_s = self._last_write + self._queue.progress_interval_s - time.monotonic()
            if wait_s <= 0:
                self._write_locked()
            elif not self._timer_armed:
                self._timer_armed = True
                self._arm(wait_s)

    def _arm(self, wait_s: float) -> None:
        loop = self._queue.loop
        if loop is None or loop.is_closed():
            self._timer_armed = False
            return
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        if on_loop:
            loop.call_later(wait_s, self.flush)
        else:
            loop.call_soon_threadsafe(loop.call_later, wait_s, self.flush)

    def flush(self) -> None:
        """Write the pending value now (before the job settles, and from the timer)."""
        with self._lock:
            self._timer_armed = False
            if self._pending is not None:
                self._write_locked()

    def _write_locked(self) -> None:
        thread = self._queue.write_thread
        text, self._pending = self._pending, None
        self._last_write = time.monotonic()
        if thread is None or text is None:
            return
        # queued before any settlement of this job on the same thread, so it lands first
        thread.submit(write_progress, self._queue.using, self._job_id, self._token, text)
