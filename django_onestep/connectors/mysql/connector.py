"""``MySQLConnector``: MySQL/MariaDB tables a team already has, as sources.

    mysql = MySQLConnector("mysql://app:secret@db/shop")      # or using="legacy"
    orders = mysql.table_queue(table="orders", key="id", where="status = 'new'",
                               claim={"status": "processing"}, ack={"status": "done"},
                               fail={"status": "failed"})

mysqlclient is synchronous: each statement runs in a small thread pool owned by the
connector, each thread with its own connection (a MySQLdb connection is not
thread-safe). The driver is imported only when the first statement runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django_onestep.connectors.mysql.aliases import resolve_alias
from django_onestep.connectors.mysql.classify import to_connector_error
from django_onestep.connectors.mysql.dsn import connect_params
from django_onestep.connectors.mysql.identifiers import checked_name, checked_table, checked_where
from django_onestep.connectors.mysql.incremental import IncrementalSource, default_state_key
from django_onestep.connectors.mysql.queue import TableQueueSource
from django_onestep.connectors.mysql.state_tables import MySQLCursorStore, MySQLStateStore
from django_onestep.connectors.mysql.table_sink import TableSink
from django_onestep.connectors.ordered_cursor import ON_FAILURE
from django_onestep.connectors.redaction import redact_url
from django_onestep.core.errors import ConfigurationError, ConnectorOperation, MissingExtraError
from django_onestep.core.state import CursorStore
from django_onestep.core.validation import int_between, non_negative_number

__all__ = ["MySQLConnector"]

T = TypeVar("T")


class MySQLConnector:
    """Connection settings (a DSN or a Django alias) plus the threads statements run in."""

    def __init__(self, dsn: str | None = None, *, using: str | None = None, max_threads: int = 4) -> None:
        if (dsn is None) == (using is None):
            raise ConfigurationError(
                "MySQLConnector: give a dsn ('mysql://user:pass@host/db') or using='alias', not both"
            )
        if using is not None and (not isinstance(using, str) or not using):
            raise ConfigurationError(f"MySQLConnector using: must be a Django database alias, got {using!r}")
        if type(max_threads) is not int or max_threads < 2:
            raise ConfigurationError(
                f"MySQLConnector max_threads: must be an integer >= 2, got {max_threads!r}"
            )
        self._params = connect_params(dsn) if dsn is not None else None
        self.shown = redact_url(dsn) if dsn is not None else f"using={using!r}"
        self.using = using
        self.max_threads = max_threads
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MySQLConnector({self.shown})"

    @property
    def tokens(self) -> list[str]:
        """The password: never shown in an error or a log line."""
        password = self.params().get("password") or self.params().get("passwd")
        return [password] if isinstance(password, str) and password else []

    def params(self) -> dict[str, Any]:
        if self._params is None:
            assert self.using is not None
            self._params = resolve_alias(self.using)
        return self._params

    def connect(self) -> Any:
        """A new MySQLdb connection (READ COMMITTED: claims lock only the rows they take)."""
        try:
            import MySQLdb
        except ImportError:
            raise MissingExtraError("MySQLdb", "mysql") from None
        conn = MySQLdb.connect(**self.params())
        conn.autocommit(False)
        with conn.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        return conn

    def check_on_own_connection(self, check: Callable[[Any], None], *, source_name: str) -> None:
        """``check(connection)`` on a connection of its own, committed: the schema check
        before serving (``onestep_check``, the worker), with errors classified."""
        import MySQLdb

        try:
            conn = self.connect()
            try:
                check(conn)
                conn.commit()
            finally:
                conn.close()
        except MySQLdb.Error as exc:
            raise to_connector_error(
                exc, operation=ConnectorOperation.OPEN, source_name=source_name, tokens=self.tokens
            ) from None

    def run_blocking(self, fn: Callable[[Any], T]) -> T:
        """``fn(connection)`` in one transaction on this thread's connection, committed."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.connect()
            with self._lock:
                self._connections.append(conn)
        try:
            result = fn(conn)
            conn.commit()
            return result
        except BaseException:
            try:
                conn.rollback()
            except Exception:  # the connection is gone: the next call opens a new one
                self._drop(conn)
            raise

    async def run(self, fn: Callable[[Any], T]) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_threads, thread_name_prefix="onestep-mysql")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.run_blocking, fn)

    def _drop(self, conn: Any) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._connections:
                self._connections.remove(conn)
        try:
            conn.close()
        except Exception:
            pass

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except Exception:
                pass
        self._local = threading.local()

    def table_queue(
        self,
        table: str,
        key: str,
        where: str | Mapping[str, Any],
        claim: Mapping[str, Any],
        ack: Mapping[str, Any],
        nack: Mapping[str, Any] | None = None,
        fail: Mapping[str, Any] | None = None,
        *,
        batch_size: int = 100,
        lease_s: float = 300.0,
        attempts_column: str | None = None,
        where_params: Sequence[Any] | None = None,
        poll_interval_s: float = 1.0,
    ) -> TableQueueSource:
        return TableQueueSource(
            self,
            table=table,
            key=key,
            where=where,
            where_params=where_params,
            claim=claim,
            ack=ack,
            nack=nack,
            fail=fail,
            batch_size=batch_size,
            lease_s=lease_s,
            attempts_column=attempts_column,
            poll_interval_s=poll_interval_s,
        )

    def incremental(
        self,
        table: str,
        key: str,
        cursor: Sequence[str] = (),
        where: str | Mapping[str, Any] | None = None,
        batch_size: int = 1000,
        state: CursorStore | None = None,
        state_key: str | None = None,
        lag_s: float = 0,
        *,
        where_params: Sequence[Any] | None = None,
        on_failure: str = "fence",
        poll_interval_s: float = 1.0,
    ) -> IncrementalSource:
        """Rows after a saved position in ``(cursor..., key)`` order; the key is appended if absent."""
        owner = "mysql incremental"
        table = checked_table(owner, table)
        owner = f"mysql incremental {table!r}"
        key = checked_name(owner, "key", key)
        if isinstance(cursor, str) or not isinstance(cursor, Sequence) or not cursor:
            raise ConfigurationError(f"{owner} cursor: must be a list of column names, got {cursor!r}")
        columns = tuple(checked_name(owner, "cursor", column) for column in cursor)
        effective = columns if key in columns else (*columns, key)
        int_between(f"{owner} batch_size", batch_size, 1, 100_000)
        non_negative_number(f"{owner} lag_s", lag_s)
        non_negative_number(f"{owner} poll_interval_s", poll_interval_s)
        if on_failure not in ON_FAILURE:
            raise ConfigurationError(
                f"{owner} on_failure: must be 'fence' or 'dead_letter', got {on_failure!r}"
            )
        if state is not None and not isinstance(state, CursorStore):
            raise ConfigurationError(f"{owner} state: must have async load() and save(), got {state!r}")
        if state_key is not None and (not isinstance(state_key, str) or not state_key):
            raise ConfigurationError(f"{owner} state_key: must be a non-empty string, got {state_key!r}")
        checked = None if where is None else checked_where(owner, where, where_params)
        return IncrementalSource(
            self,
            table=table,
            key=key,
            cursor=effective,
            where=checked,
            batch_size=batch_size,
            state=state if state is not None else self.cursor_store(),
            state_key=state_key or default_state_key(table, effective, key, _where_text(where)),
            lag_s=float(lag_s),
            on_failure=on_failure,
            poll_interval_s=float(poll_interval_s),
        )

    def table_sink(self, table: str, mode: str = "insert", keys: Sequence[str] = ()) -> TableSink:
        """Write payloads (a row, or a list of rows) to ``table``: insert, upsert or update by ``keys``."""
        return TableSink(self, table, mode, keys)

    def state_store(self, table: str = "onestep_state", **columns: Any) -> MySQLStateStore:
        """onestep's state table (created if missing): ``key_column``, ``value_column``... as onestep."""
        return MySQLStateStore(self, table, **columns)

    def cursor_store(self, table: str = "onestep_cursor", **columns: Any) -> MySQLCursorStore:
        """onestep's cursor table (created if missing); datetimes in cursors round-trip."""
        return MySQLCursorStore(self, table, **columns)


def _where_text(where: str | Mapping[str, Any] | None) -> str | None:
    """The ``where`` part of the default state key: the string as onestep has it, a mapping spelt out."""
    if where is None or isinstance(where, str):
        return where
    return " AND ".join(f"{column} = {value!r}" for column, value in where.items())
