"""``IncrementalSource``: new and changed rows of a MySQL table in ``(cursor..., key)`` order (onestep's incremental).

The ordering, the position and the failure handling are ``OrderedCursorSource``'s; this
reads the rows with one SELECT per batch and checks the columns against the schema.
``lag_s`` is on the server's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.mysql.classify import to_connector_error
from django_onestep.connectors.mysql.identifiers import quote, quote_table
from django_onestep.connectors.mysql.schema import check_columns, column_type, table_columns
from django_onestep.connectors.ordered_cursor import IncrementalDelivery, OrderedCursorSource, Position
from django_onestep.core.errors import ConfigurationError, ConnectorOperation
from django_onestep.core.state import CursorStore

if TYPE_CHECKING:
    from django_onestep.connectors.mysql.connector import MySQLConnector

__all__ = ["IncrementalDelivery", "IncrementalSource", "default_state_key"]

_TEMPORAL = frozenset({"datetime", "timestamp", "date"})


class IncrementalSource(OrderedCursorSource):
    backend = "mysql"

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
        super().__init__(
            f"mysql.incremental:{table}",
            owner=f"mysql incremental {table!r}",
            table=table,
            key=key,
            cursor=cursor,
            batch_size=batch_size,
            state=state,
            state_key=state_key,
            lag_s=lag_s,
            on_failure=on_failure,
            poll_interval_s=poll_interval_s,
        )
        self.connector = connector
        self.where = where

    def __repr__(self) -> str:
        return (
            f"IncrementalSource(table={self.table!r}, cursor={self.cursor!r}, connector={self.connector!r})"
        )

    def check_schema(self, conn: Any) -> None:
        used = [("key", self.key)] + [("cursor", column) for column in self.cursor]
        check_columns(self._owner, self.table, table_columns(conn, self.table), used)
        if self.lag_s and column_type(conn, self.table, self.cursor[0]) not in _TEMPORAL:
            raise ConfigurationError(
                f"{self._owner} lag_s: needs a date or time first cursor column; {self.cursor[0]!r} is "
                f"{column_type(conn, self.table, self.cursor[0])}"
            )

    def preflight(self) -> None:
        """The schema check on a connection of its own (``onestep_check``, the worker before serving)."""
        self.connector.check_on_own_connection(self.check_schema, source_name=self.name)

    async def _check(self) -> None:
        await self._call(ConnectorOperation.OPEN, self.check_schema)

    async def _read_rows(self, after: Position | None, limit: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._call(
            ConnectorOperation.FETCH, lambda conn: self._select(conn, after, limit)
        )
        return rows

    async def _release(self) -> None:
        await self.connector.close()

    def _select(self, conn: Any, after: Position | None, limit: int) -> list[dict[str, Any]]:
        import MySQLdb.cursors

        clauses: list[str] = []
        params: list[Any] = []
        if self.where is not None:
            clauses.append(f"({self.where[0]})")
            params += self.where[1]
        if after is not None:
            # (a, b, k) > (x, y, z) spelt out, so each prefix can use the index as a range.
            ors = []
            for i, column in enumerate(self.cursor):
                ors.append(
                    " AND ".join([*(f"{quote(c)} = %s" for c in self.cursor[:i]), f"{quote(column)} > %s"])
                )
                params += [*after[:i], after[i]]
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
