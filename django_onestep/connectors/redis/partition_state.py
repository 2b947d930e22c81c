"""One owned partition in memory: its read-ahead buffer and which keys are busy.

Strict per-key order with parallelism across keys: an entry is handed out only when no
earlier entry of its key is still buffered, in flight or waiting for a retry. Entries of
other keys go ahead meanwhile, so one slow key does not stall its whole partition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django_onestep.core.envelope import Envelope

__all__ = ["ACTIVE", "HALTED", "RELEASING", "BufferedEntry", "PartitionState"]

ACTIVE = "active"
RELEASING = "releasing"  # rebalanced away: hands nothing out, released once idle
HALTED = "halted"  # exception policy halt: holds its lease, hands nothing out


@dataclass(eq=False)  # compared by identity: two reads of one entry are two places
class BufferedEntry:
    entry_id: str
    envelope: Envelope
    key: bytes
    poison_reason: str | None = None
    in_flight: bool = False
    due_at: float = 0.0  # monotonic; a retry waits here at its place in the order


@dataclass
class PartitionState:
    partition: int
    lease: str
    mode: str = ACTIVE
    # "0": replaying the entries the previous owner read and never acked, from the
    # start of our consumer's pending list; after that, the last id replayed, then ">"
    cursor: str = "0"
    buffer: list[BufferedEntry] = field(default_factory=list)
    halted_reason: str | None = None

    @property
    def in_flight(self) -> int:
        return sum(1 for entry in self.buffer if entry.in_flight)

    def wants_read(self, capacity: int) -> bool:
        # read again at half empty: fewer, fuller reads under load
        return self.mode == ACTIVE and len(self.buffer) <= capacity // 2

    def add(self, entries: list[BufferedEntry], last_read_id: str | None) -> None:
        """Entries just read; ``last_read_id`` also counts ones that were trimmed away."""
        self.buffer.extend(entries)
        if self.cursor != ">":
            # replaying: an empty page means the pending list is done
            self.cursor = last_read_id or ">"

    def take_ready(self, limit: int, now: float | None = None) -> list[BufferedEntry]:
        """Up to ``limit`` entries that may start now, oldest first, marked in flight."""
        if self.mode != ACTIVE or limit <= 0:
            return []
        now = time.monotonic() if now is None else now
        busy: set[bytes] = set()
        ready: list[BufferedEntry] = []
        for entry in self.buffer:
            if entry.key in busy:
                continue
            busy.add(entry.key)
            if entry.in_flight or entry.due_at > now:
                continue
            entry.in_flight = True
            ready.append(entry)
            if len(ready) >= limit:
                break
        return ready

    def next_due_at(self) -> float | None:
        """The earliest retry still waiting (monotonic), or None."""
        waiting = [entry.due_at for entry in self.buffer if not entry.in_flight and entry.due_at]
        return min(waiting) if waiting else None

    def remove(self, entry: BufferedEntry) -> None:
        self.buffer = [kept for kept in self.buffer if kept is not entry]
