"""``IncrementalSource``: new and changed rows of a table, in ``(cursor..., key)`` order (onestep's incremental).

The position is a cursor store entry holding the last row whose work is done. Rows are
read after it, ordered by their row value; the cursor moves only over the contiguous
prefix of acked rows, so a slow or retried row is never skipped by a restart. A retried
row is handed out again (in order, before newer rows); a row that fails for good either
fences the source (it stops and says which row) or, with ``on_failure="dead_letter"``,
is stored as a dead letter and passed. ``lag_s`` leaves the newest seconds unread, for
writers whose transactions commit after rows with a later timestamp.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.mysql.classify import to_connector_error
from django_onestep.connectors.mysql.identifiers import quote, quote_table
from django_onestep.connectors.mysql.schema import check_columns, table_columns
from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorErrorKind, ConnectorOperation, ConnectorOperationError
from django_onestep.core.state import CursorStore

if TYPE_CHECKING:
    from django_onestep.connectors.mysql.connector import MySQLConnector

__all__ = ["IncrementalDelivery", "IncrementalSource"]

logger = logging.getLogger("django_onestep.connectors.mysql.incremental")
Position = tuple[Any, ...]


@dataclass
class _Retry:
    envelope: Envelope
    ready_at: float
    in_flight: bool = False


class IncrementalDelivery(Delivery):
    def __init__(self, source: IncrementalSource, envelope: Envelope, position: Position) -> None:
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


class IncrementalSource(Source):
    def __init__(
        self,
        connector: MySQLConnector,
        *,
        table: str,
        key: str,
        cursor: tuple[str, ...],
        where: tuple[str, tuple[Any, ...]] | None,
        batch_size: int,
        state: CursorStore,
        state_key: str,
        lag_s: float,
        on_failure: str,
        poll_interval_s: float,
    ) -> None:
        super().__init__(f"mysql.incremental:{table}")
        self.connector = connector
        self.table, self.key, self.cursor = table, key, cursor
        self.where = where
        self.batch_size = batch_size
        self.state, self.state_key = state, state_key
        self.lag_s, self.on_failure = lag_s, on_failure
        self.poll_interval_s = poll_interval_s
        self._owner = f"mysql incremental {table!r}"
        self._committed: Position | None = None  # saved in the store
        self._read: Position | None = None  # the last row handed out
        self._pending: deque[Position] = deque()  # handed out, in order, not yet committed
        self._acked: set[Position] = set()
        self._retries: dict[Position, _Retry] = {}
        self._fenced: ConnectorOperationError | None = None
        self._commit_lock = asyncio.Lock()
        self._loaded = False

    def __repr__(self) -> str:
        return (
            f"IncrementalSource(table={self.table!r}, cursor={self.cursor!r}, connector={self.connector!r})"
        )

    # -- startup ---------------------------------------------------------------------
    def check_schema(self, conn: Any) -> None:
        used = [("key", self.key)] + [("cursor", column) for column in self.cursor]
        check_columns(self._owner, self.table, table_columns(conn, self.table), used)

    def preflight(self) -> None:
        conn = self.connector.connect()
        try:
            self.check_schema(conn)
        finally:
            conn.close()

    async def open(self) -> None:
        await self._call(ConnectorOperation.OPEN, self.check_schema)
        if not self._loaded:
            saved = await self.state.load(self.state_key)
            if isinstance(saved, list | tuple) and len(saved) == len(self.cursor):
                self._committed = self._read = tuple(saved)
            self._loaded = True

    async def close(self) -> None:
        async with self._commit_lock:
            pass  # a commit under way finishes first
        await self.connector.close()

    # -- fetching --------------------------------------------------------------------
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
        rows = await self._call(
            ConnectorOperation.FETCH, lambda conn: self._select(conn, min(limit, self.batch_size))
        )
        deliveries: list[Delivery] = []
        for row in rows:
            position = tuple(row[column] for column in self.cursor)
            self._pending.append(position)
            self._read = position
            envelope = Envelope(body=row, meta={"table": self.table, "key": row[self.key]})
            deliveries.append(IncrementalDelivery(self, envelope, position))
        return deliveries

    def _select(self, conn: Any, limit: int) -> list[dict[str, Any]]:
        import MySQLdb.cursors

        clauses: list[str] = []
        params: list[Any] = []
        if self.where is not None:
            clauses.append(f"({self.where[0]})")
            params += self.where[1]
        if self._read is not None:
            # (a, b, k) > (x, y, z) spelt out, so each prefix can use the index as a range.
            ors = []
            for i, column in enumerate(self.cursor):
                ors.append(
                    " AND ".join([*(f"{quote(c)} = %s" for c in self.cursor[:i]), f"{quote(column)} > %s"])
                )
                params += [*self._read[:i], self._read[i]]
            clauses.append("(" + " OR ".join(f"({part})" for part in ors) + ")")
        if self.lag_s:
            clauses.append(f"{quote(self.cursor[0])} <= NOW(6) - INTERVAL %s MICROSECOND")
            params.append(int(self.lag_s * 1_000_000))
        sql = f"SELECT * FROM {quote_table(self.table)}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY " + ", ".join(quote(c) for c in self.cursor) + " LIMIT %s"
        cursor = conn.cursor(MySQLdb.cursors.DictCursor)
        cursor.execute(sql, (*params, limit))
        return [dict(row) for row in cursor.fetchall()]

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
            backend="mysql",
            operation=ConnectorOperation.FETCH,
            kind=ConnectorErrorKind.PERMANENT,
            source_name=self.name,
            message=(
                f"{self._owner} is fenced at cursor {list(position)!r}: the row failed for good ({reason}); "
                "the cursor stays before it. Fix the cause and restart, or set on_failure='dead_letter'"
            ),
        )
        logger.error("%s", self._fenced)

    async def _call(self, operation: ConnectorOperation, fn: Any) -> Any:
        import MySQLdb

        try:
            return await self.connector.run(fn)
        except MySQLdb.Error as exc:
            raise to_connector_error(
                exc,
                operation=operation,
                source_name=self.name,
                tokens=self.connector.tokens,
                retry_delay_s=self.poll_interval_s,
            ) from None


def default_state_key(table: str, cursor: Sequence[str], key: str, where: str | None) -> str:
    """onestep-sql's key for a cursor, so a cursor it saved is resumed."""
    import hashlib

    normalized = " ".join((where or "").split())
    if len(normalized) > 64:
        normalized = f"sha1:{hashlib.sha1(normalized.encode('utf-8')).hexdigest()}"
    return f"{table}:{','.join(cursor)}:key={key}:where={normalized or '-'}"
