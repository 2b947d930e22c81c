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
from django_onestep.connectors.mysql.dsn import connect_params
from django_onestep.connectors.mysql.queue import TableQueueSource
from django_onestep.connectors.redaction import redact_url
from django_onestep.core.errors import ConfigurationError, MissingExtraError

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
