"""``--max-tasks-per-child`` and ``--max-memory-per-child`` inside a pool child.

The child counts its settled deliveries and, as they settle, looks at its resident
memory; past either limit it stops gracefully (in-flight work finishes, claimed but
unstarted work is given back) and exits 0, which the supervisor answers by starting a
fresh process at once. Checking as deliveries settle is enough: memory grows by running
handlers, and an idle child has nothing to leak.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django_onestep.core.processes.resident_memory import resident_memory_kib

__all__ = ["ChildRecycler"]

logger = logging.getLogger("django_onestep.worker")

_SETTLED_KINDS = frozenset({"succeeded", "failed", "retried"})
# Reading /proc costs a few microseconds; a busy child still need not do it per delivery.
_MEMORY_CHECK_INTERVAL_S = 0.5


class ChildRecycler:
    """Stops the worker (``stop()``) once a per-child limit is reached."""

    def __init__(
        self,
        stop: Callable[[], None],
        *,
        max_tasks: int | None,
        max_memory_kib: int | None,
        memory_kib: Callable[[], int] = resident_memory_kib,
    ) -> None:
        self.stop = stop
        self.max_tasks = max_tasks
        self.max_memory_kib = max_memory_kib
        self.memory_kib = memory_kib
        self.settled = 0
        self.reason: str | None = None
        self._memory_checked_at = 0.0

    def on_event(self, event: Any) -> None:
        if self.reason is not None or getattr(event.kind, "value", event.kind) not in _SETTLED_KINDS:
            return
        self.settled += 1
        if self.max_tasks is not None and self.settled >= self.max_tasks:
            self._recycle(f"--max-tasks-per-child {self.max_tasks} reached")
        elif self.max_memory_kib is not None:
            now = time.monotonic()
            if now - self._memory_checked_at >= _MEMORY_CHECK_INTERVAL_S:
                self._memory_checked_at = now
                used_kib = self.memory_kib()
                if used_kib > self.max_memory_kib:
                    self._recycle(
                        f"resident memory {used_kib} KiB is above --max-memory-per-child {self.max_memory_kib}"
                    )

    def _recycle(self, reason: str) -> None:
        self.reason = reason
        logger.info("%s: this worker process stops and the supervisor starts a fresh one", reason)
        self.stop()
