"""Crash-loop detection for the ``--processes`` supervisor.

A child that crashes is restarted with a backoff; one that crashes again and again (a
poison message that kills every process that claims it, a broken deploy) would be
restarted for ever while the pool does nothing useful. Past ``max_crashes`` crashes
within ``window_s`` the supervisor stops the pool and exits 1 instead, so the service
manager (systemd's start limit, Kubernetes' CrashLoopBackOff) and whoever watches it
see the failure.
"""

from __future__ import annotations

import time
from collections import deque

__all__ = ["CrashLoopDetector"]


class CrashLoopDetector:
    def __init__(self, processes: int, *, window_s: float = 60.0, max_crashes: int | None = None) -> None:
        self.window_s = window_s
        # a big pool sees more independent crashes: it takes one per process, at least 5
        self.max_crashes = max_crashes if max_crashes is not None else max(5, processes)
        self._crashes: deque[float] = deque()

    def record_crash(self, now: float | None = None) -> bool:
        """Count one crash; True when the pool is crash-looping."""
        now = time.monotonic() if now is None else now
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > self.window_s:
            self._crashes.popleft()
        return len(self._crashes) >= self.max_crashes

    @property
    def recent_crashes(self) -> int:
        return len(self._crashes)
