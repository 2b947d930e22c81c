"""Rows after a saved position, settled in order: what every incremental table reader shares.

The position is a cursor store entry holding the last row whose work is done. Rows are
read after it, ordered by their row value; the position moves only over the contiguous
prefix of acked rows, so a slow or retried row is never skipped by a restart. A retried
row is handed out again (in order, before newer rows); a row that fails for good either
fences the source (it stops and says which row) or, with ``on_failure="dead_letter"``,
is stored as a dead letter and passed. A reader (MySQL, a Django model) subclasses
:class:`OrderedCursorSource` with how it checks its table and reads rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorErrorKind, ConnectorOperation, ConnectorOperationError
from django_onestep.core.state import CursorStore

__all__ = ["ON_FAILURE", "IncrementalDelivery", "OrderedCursorSource", "Position"]

logger = logging.getLogger("django_onestep.connectors.ordered_cursor")
Position = tuple[Any, ...]
ON_FAILURE = ("fence", "dead_letter")


@dataclass
class _Retry:
    envelope: Envelope
    ready_at: float
    in_flight: bool = False


class IncrementalDelivery(Delivery):
    def __init__(self, source: OrderedCursorSource, envelope: Envelope, position: Position) -> None:
        super().__init__(envelope)
        self._source = source
        self.position = position

    async def ack(self) -> None:
        if self.mark_settled():
            await self._source.acked(self.position)

    async def retry(self, *, delay_s: float | None = None) -> None:
        if self.mark_settled():
            self._source.retry_later(self, max(0.0, delay_s or 0.0), count=True)

    async def release_unstarted(self) -> None:
        if self.mark_settled():
            self._source.retry_later(self, 0.0, count=False)

    async def fail(self, exc: Exception | None = None) -> None:
        """No dead-letter sink took the row: the source fences, whatever ``on_failure`` says."""
        if self.mark_settled():
            self._source.fence(self.position, exc)

    async def fail_to_dead_letter(self, sink: Sink, envelope: Envelope) -> bool:
        if self._source.on_failure != "dead_letter":
            return False  # the runner sends the dead letter, then fail() fences
        await sink.send(envelope)
        if self.mark_settled():
            await self._source.acked(self.position)
        return True


class OrderedCursorSource(Source):
    """The position, the retries and the fence; subclasses read rows and check their table."""

    backend = "sql"  # the ConnectorOperationError backend of a fence

    def __init__(
        self,
        name: str,
        *,
        owner: str,
        table: str,
        key: str,
        cursor: tuple[str, ...],
        batch_size: int,
        state: CursorStore,
        state_key: str,
        lag_s: float,
        on_failure: str,
        poll_interval_s: float,
    ) -> None:
        super().__init__(name)
        self.table, self.key, self.cursor = table, key, cursor
        self.batch_size = batch_size
        self.state, self.state_key = state, state_key
        self.lag_s, self.on_failure = lag_s, on_failure
        self.poll_interval_s = poll_interval_s
        self._owner = owner
        self._committed: Position | None = None  # saved in the store
        self._read: Position | None = None  # the last row handed out
        self._pending: deque[Position] = deque()  # handed out, in order, not yet committed
        self._acked: set[Position] = set()
        self._retries: dict[Position, _Retry] = {}
        self._fenced: ConnectorOperationError | None = None
        self._commit_lock = asyncio.Lock()
        self._loaded = False

    async def _check(self) -> None:
        """Raise ConfigurationError when the table lacks a column the source needs."""
        raise NotImplementedError

    async def _read_rows(self, after: Position | None, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` rows after ``after`` in cursor order, leaving the newest ``lag_s`` seconds."""
        raise NotImplementedError

    async def _release(self) -> None:
        return None

    async def open(self) -> None:
        await self._check()
        if not self._loaded:
            saved = await self.state.load(self.state_key)
            if isinstance(saved, list | tuple) and len(saved) == len(self.cursor):
                self._committed = self._read = tuple(saved)
            self._loaded = True

    async def close(self) -> None:
        async with self._commit_lock:
            pass  # a commit under way finishes first
        await self._release()

    async def fetch(self, limit: int) -> list[Delivery]:
        if self._fenced is not None:
            raise self._fenced
        now = time.monotonic()
        for position in self._pending:  # retried rows first, in cursor order
            retry = self._retries.get(position)
            if retry is not None and not retry.in_flight and retry.ready_at <= now:
                retry.in_flight = True
                return [IncrementalDelivery(self, retry.envelope, position)]
        if self._retries:
            return []  # newer rows wait: the cursor cannot pass a row being retried anyway
        rows = await self._read_rows(self._read, min(limit, self.batch_size))
        deliveries: list[Delivery] = []
        for row in rows:
            position = tuple(row[column] for column in self.cursor)
            self._pending.append(position)
            self._read = position
            envelope = Envelope(body=row, meta={"table": self.table, "key": row[self.key]})
            deliveries.append(IncrementalDelivery(self, envelope, position))
        return deliveries

    # -- settling --------------------------------------------------------------------
    async def acked(self, position: Position) -> None:
        self._acked.add(position)
        self._retries.pop(position, None)
        if self._pending and self._pending[0] == position:
            await self._commit()

    async def _commit(self) -> None:
        """Save the end of the contiguous acked prefix; acks that arrive meanwhile join the next save."""
        async with self._commit_lock:
            highest: Position | None = None
            while self._pending and self._pending[0] in self._acked:
                highest = self._pending.popleft()
                self._acked.discard(highest)
            if highest is None or highest == self._committed:
                return
            await self.state.save(self.state_key, list(highest))
            self._committed = highest

    def retry_later(self, delivery: IncrementalDelivery, delay_s: float, *, count: bool) -> None:
        envelope = delivery.envelope
        again = Envelope(
            body=envelope.body, meta=dict(envelope.meta), attempts=envelope.attempts + int(count)
        )
        self._retries[delivery.position] = _Retry(again, time.monotonic() + delay_s)

    def fence(self, position: Position, exc: Exception | None) -> None:
        self._retries.pop(position, None)
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else "failed for good"
        self._fenced = ConnectorOperationError(
            backend=self.backend,
            operation=ConnectorOperation.FETCH,
            kind=ConnectorErrorKind.PERMANENT,
            source_name=self.name,
            message=(
                f"{self._owner} is fenced at cursor {list(position)!r}: the row failed for good ({reason}); "
                "the cursor stays before it. Fix the cause and restart, or set on_failure='dead_letter'"
            ),
        )
        logger.error("%s", self._fenced)
