"""The bounded thread pool that runs sync handlers.

Sync handlers (most Django code) must not block the event loop, and the ORM refuses to
run in it. Each app owns one pool, sized to the total concurrency of its sync tasks so
a task never waits for a thread another task holds.
"""

from __future__ import annotations

import concurrent.futures
import threading

__all__ = ["MAX_SYNC_WORKERS", "SyncPool"]

MAX_SYNC_WORKERS = 256


class SyncPool:
    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.max_workers = 1

    def configure(self, max_workers: int) -> None:
        """Set the size used when the pool is next created (at serve time)."""
        self.max_workers = max(1, min(MAX_SYNC_WORKERS, int(max_workers)))

    def get(self) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = concurrent.futures.ThreadPoolExecutor(
                        max_workers=self.max_workers, thread_name_prefix=f"onestep-{self._name}"
                    )
                    self._pool = pool
        return pool

    def shutdown(self) -> None:
        """Stop accepting work. Threads still running a handler finish in the background
        (Python cannot stop a thread); queued calls that never started are dropped,
        and their deliveries were already handed back by the runner."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
