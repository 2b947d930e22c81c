"""``TableSink``: a task's results written to a table (onestep's ``table_sink``).

``mode="insert"`` inserts, ``"upsert"`` inserts or updates the row with the same
``keys`` (``ON DUPLICATE KEY UPDATE``), ``"update"`` updates the rows matching
``keys``. A payload is a mapping (one row) or a list of mappings (one batched
statement per set of columns). Columns are checked against the table; an upsert
checks when it opens that a unique index covers ``keys``, since without one
``ON DUPLICATE KEY`` would silently insert duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.mysql.classify import to_connector_error
from django_onestep.connectors.mysql.identifiers import checked_name, checked_table, quote, quote_table
from django_onestep.connectors.mysql.schema import check_columns, table_columns
from django_onestep.core.base import Sink
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError, ConnectorOperation

if TYPE_CHECKING:
    from django_onestep.connectors.mysql.connector import MySQLConnector

__all__ = ["MODES", "TableSink"]

MODES = ("insert", "upsert", "update")


def unique_indexes(conn: Any, table: str) -> dict[str, set[str]]:
    """Index name -> its lower-cased columns, for the unique indexes (the primary key included)."""
    schema, _, name = table.rpartition(".")
    cursor = conn.cursor()
    cursor.execute(
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS"
        " WHERE TABLE_SCHEMA = COALESCE(%s, DATABASE()) AND TABLE_NAME = %s AND NON_UNIQUE = 0",
        (schema or None, name),
    )
    indexes: dict[str, set[str]] = {}
    for index, column in cursor.fetchall():
        indexes.setdefault(str(index), set()).add(str(column).lower())
    return indexes


class TableSink(Sink):
    def __init__(self, connector: MySQLConnector, table: str, mode: str, keys: Sequence[str]) -> None:
        self.table = checked_table("mysql table_sink", table)
        super().__init__(f"mysql.table_sink:{self.table}")
        owner = self._owner = f"mysql table_sink {self.table!r}"
        if mode not in MODES:
            raise ConfigurationError(f"{owner} mode: must be one of {list(MODES)}, got {mode!r}")
        if isinstance(keys, str):
            raise ConfigurationError(f"{owner} keys: must be a list of column names, got the string {keys!r}")
        self.keys = tuple(checked_name(owner, "keys", key) for key in keys)
        if mode != "insert" and not self.keys:
            raise ConfigurationError(f"{owner} keys: mode={mode!r} needs the key columns that identify a row")
        self.connector = connector
        self.mode = mode
        self._columns: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"TableSink(table={self.table!r}, mode={self.mode!r}, keys={self.keys!r})"

    def check_schema(self, conn: Any) -> None:
        self._columns = table_columns(conn, self.table)
        check_columns(self._owner, self.table, self._columns, [("keys", key) for key in self.keys])
        if self.mode == "upsert":
            wanted = {key.lower() for key in self.keys}
            if not any(columns <= wanted for columns in unique_indexes(conn, self.table).values()):
                raise ConfigurationError(
                    f"{self._owner} keys: upsert needs a unique index (or primary key) on {list(self.keys)}; "
                    f"the table has none, so rows would be inserted twice"
                )

    def preflight(self) -> None:
        """The schema check on a connection of its own (``onestep_check``, the worker before serving)."""
        self.connector.check_on_own_connection(self.check_schema, source_name=self.name)

    async def open(self) -> None:
        await self._call(ConnectorOperation.OPEN, self.check_schema)

    async def close(self) -> None:
        await self.connector.close()

    async def send(self, envelope: Envelope) -> None:
        body = envelope.body
        rows = [body] if isinstance(body, Mapping) else body
        if not isinstance(rows, list | tuple) or not all(isinstance(row, Mapping) for row in rows):
            raise TypeError(
                f"{self._owner}: a payload is a mapping or a list of mappings, got {type(body).__name__}"
            )
        if not rows:
            return
        if not self._columns:
            await self.open()
        for row in rows:
            unknown = [column for column in row if str(column).lower() not in self._columns]
            if unknown:
                raise ValueError(f"{self._owner}: column(s) {unknown} not in table {self.table!r}")
            missing = [key for key in self.keys if key not in row]
            if missing and self.mode != "insert":
                raise ValueError(f"{self._owner}: a row lacks the key column(s) {missing}")
        await self._call(ConnectorOperation.SEND, lambda conn: self._write(conn, rows))

    def _write(self, conn: Any, rows: list[Mapping[str, Any]] | tuple[Mapping[str, Any], ...]) -> None:
        cursor = conn.cursor()
        # One executemany per set of columns (mysqlclient folds an INSERT's rows into one statement).
        for columns, group in groupby(rows, key=lambda row: tuple(row)):
            values = [tuple(row[column] for column in columns) for row in group]
            cursor.executemany(self._statement(columns), self._parameters(columns, values))

    def _statement(self, columns: tuple[str, ...]) -> str:
        table = quote_table(self.table)
        if self.mode == "update":
            sets = ", ".join(f"{quote(c)} = %s" for c in columns if c not in self.keys)
            match = " AND ".join(f"{quote(k)} = %s" for k in self.keys)
            return f"UPDATE {table} SET {sets} WHERE {match}"
        insert = f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        if self.mode == "insert":
            return insert
        updates = [c for c in columns if c not in self.keys] or list(self.keys)[:1]
        return (
            insert
            + " ON DUPLICATE KEY UPDATE "
            + ", ".join(f"{quote(c)} = VALUES({quote(c)})" for c in updates)
        )

    def _parameters(self, columns: tuple[str, ...], values: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if self.mode != "update":
            return values
        value_columns = [i for i, c in enumerate(columns) if c not in self.keys]
        key_columns = [columns.index(k) for k in self.keys]
        return [tuple(row[i] for i in value_columns) + tuple(row[i] for i in key_columns) for row in values]

    async def _call(self, operation: ConnectorOperation, fn: Any) -> Any:
        import MySQLdb

        try:
            return await self.connector.run(fn)
        except MySQLdb.Error as exc:
            raise to_connector_error(
                exc, operation=operation, source_name=self.name, tokens=self.connector.tokens
            ) from None
