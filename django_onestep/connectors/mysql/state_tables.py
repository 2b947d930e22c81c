"""``MySQLConnector.state_store()`` / ``.cursor_store()``: onestep-sql's tables, read and written as it does.

Same layout (``state_key`` VARCHAR(255) primary key, ``state_value`` JSON text,
``updated_at``) and the same JSON, so a cursor saved by onestep is resumed here and
the other way round. Cursor lists keep datetimes as onestep tags them
(``{"__onestep_cursor_type__": "datetime", "value": iso}``); dates and decimals get
tags of the same shape. The table is created if missing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.mysql.identifiers import checked_name, checked_table, quote, quote_table

if TYPE_CHECKING:
    from django_onestep.connectors.mysql.connector import MySQLConnector

__all__ = ["MySQLCursorStore", "MySQLStateStore"]

_TYPE, _VALUE = "__onestep_cursor_type__", "value"


class MySQLStateStore:
    """A key -> JSON value table (onestep's ``SQLAlchemyStateStore`` layout)."""

    def __init__(
        self,
        connector: MySQLConnector,
        table: str = "onestep_state",
        *,
        key_column: str = "state_key",
        value_column: str = "state_value",
        updated_at_column: str = "updated_at",
        auto_create: bool = True,
    ) -> None:
        owner = f"mysql {type(self).__name__}"
        self.connector = connector
        self.table = checked_table(owner, table)
        self._t = quote_table(self.table)
        self._k, self._v, self._u = (
            quote(checked_name(owner, option, value))
            for option, value in (
                ("key_column", key_column), ("value_column", value_column), ("updated_at_column", updated_at_column),
            )
        )  # fmt: skip
        self.auto_create = auto_create
        self._ready = False
        self._ready_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(table={self.table!r}, connector={self.connector!r})"

    async def _ensure(self) -> None:
        if self._ready or not self.auto_create:
            return
        async with self._ready_lock:
            if not self._ready:
                ddl = (
                    f"CREATE TABLE IF NOT EXISTS {self._t} ({self._k} VARCHAR(255) NOT NULL PRIMARY KEY,"
                    f" {self._v} TEXT NOT NULL, {self._u} DATETIME NOT NULL) DEFAULT CHARSET=utf8mb4"
                )
                await self.connector.run(lambda conn: conn.cursor().execute(ddl))
                self._ready = True

    async def load(self, key: str) -> Any | None:
        await self._ensure()

        def read(conn: Any) -> Any:
            cursor = conn.cursor()
            cursor.execute(f"SELECT {self._v} FROM {self._t} WHERE {self._k} = %s", (key,))
            return cursor.fetchone()

        row = await self.connector.run(read)
        return None if row is None else self.decode(json.loads(row[0]))

    async def save(self, key: str, value: Any) -> None:
        await self._ensure()
        text = json.dumps(self.encode(value), ensure_ascii=False)
        await self.connector.run(
            lambda conn: conn.cursor().execute(
                f"INSERT INTO {self._t} ({self._k}, {self._v}, {self._u}) VALUES (%s, %s, UTC_TIMESTAMP())"
                f" ON DUPLICATE KEY UPDATE {self._v} = VALUES({self._v}), {self._u} = VALUES({self._u})",
                (key, text),
            )
        )

    async def delete(self, key: str) -> None:
        await self._ensure()
        await self.connector.run(
            lambda conn: conn.cursor().execute(f"DELETE FROM {self._t} WHERE {self._k} = %s", (key,))
        )

    def encode(self, value: Any) -> Any:
        return value

    def decode(self, value: Any) -> Any:
        return value


class MySQLCursorStore(MySQLStateStore):
    """The same table shape, named ``onestep_cursor``; cursor lists round-trip datetimes."""

    def __init__(
        self,
        connector: MySQLConnector,
        table: str = "onestep_cursor",
        *,
        key_column: str = "cursor_key",
        value_column: str = "cursor_value",
        updated_at_column: str = "updated_at",
        auto_create: bool = True,
    ) -> None:
        super().__init__(
            connector,
            table,
            key_column=key_column,
            value_column=value_column,
            updated_at_column=updated_at_column,
            auto_create=auto_create,
        )

    def encode(self, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        return [_tag(component) for component in value]

    def decode(self, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [_untag(component) for component in value]


def _tag(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_TYPE: "datetime", _VALUE: value.isoformat()}
    if isinstance(value, date):
        return {_TYPE: "date", _VALUE: value.isoformat()}
    if isinstance(value, Decimal):
        return {_TYPE: "decimal", _VALUE: str(value)}
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "decimal": Decimal,
}


def _untag(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {_TYPE, _VALUE} and isinstance(value[_VALUE], str):
        parse = _PARSERS.get(value[_TYPE])
        if parse is not None:
            return parse(value[_VALUE])
    return value
