"""Claimed-ahead jobs of one ``DatabaseQueue``: claim a full batch, hand out what the
runner has room for, keep the rest for its next fetch.

A claim costs one transaction (one commit, so one fsync on SQLite) whatever its size:
claiming ``batch_size`` jobs when the task has only a few free slots makes full speed
possible at a concurrency well under ``batch_size``. The jobs kept are bounded in
time: those not handed out within ``hold_s`` are given back (their attempt not
counted) and the next claims keep fewer, so a slow handler cannot sit on claimed
work. They are ``running`` rows with leases like any claimed job, so a worker that is
killed gives them back through its leases, and ``close()`` releases them as it
releases every claimed-but-unstarted job.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_onestep.dbqueue.delivery import DatabaseDelivery

__all__ = ["Prefetched"]


class Prefetched:
    """Jobs claimed ahead, oldest first, and how many the next claim may add.

    ``target`` halves each time jobs are given back unused and doubles (up to
    ``limit``) each time the kept jobs are all handed out, so it follows the handler.
    """

    def __init__(self, limit: int, hold_s: float) -> None:
        self.limit = limit
        self.hold_s = hold_s
        self.target = limit
        self._kept: deque[tuple[float, DatabaseDelivery]] = deque()

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, deliveries: list[DatabaseDelivery], now: float) -> None:
        self._kept.extend((now, delivery) for delivery in deliveries)

    def take(self, limit: int) -> list[DatabaseDelivery]:
        taken = [self._kept.popleft()[1] for _ in range(min(limit, len(self._kept)))]
        if taken and not self._kept:
            self.target = min(self.limit, max(1, self.target * 2))
        return taken

    def put_back(self, deliveries: list[DatabaseDelivery], now: float) -> None:
        """Return jobs ``take`` gave to a fetch that then failed, first in line again
        (their hold starts over: at most one more ``hold_s``)."""
        self._kept.extendleft((now, delivery) for delivery in reversed(deliveries))

    def expired(self, now: float) -> list[DatabaseDelivery]:
        """Remove and return the jobs kept longer than ``hold_s``."""
        stale: list[DatabaseDelivery] = []
        while self._kept and now - self._kept[0][0] >= self.hold_s:
            stale.append(self._kept.popleft()[1])
        if stale:
            self.target //= 2
        return stale

    def drain(self) -> list[DatabaseDelivery]:
        """Remove and return every kept job (the queue is closing)."""
        kept = [delivery for _, delivery in self._kept]
        self._kept.clear()
        return kept
