"""A dedicated thread that owns one Django connection, and DB error classification.

The ORM is synchronous and Django connections are per thread. ``asyncio.to_thread``
would spread queue work over many threads and open one connection in each; a
``DBThread`` keeps all of a queue's claims (and, on SQLite, its acks) on one thread
and one connection, which is also what SQLite's single writer wants.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django_onestep.core.errors import ConnectorErrorKind, ConnectorOperation, ConnectorOperationError

__all__ = [
    "DBThread",
    "acquire_thread",
    "is_transient_db_error",
    "release_thread",
    "repeat_every",
    "retry_transient",
    "stop_task",
    "wrap_db_error",
]

T = TypeVar("T")

# MySQL/MariaDB client error codes that mean "the connection is gone".
_MYSQL_DISCONNECTED = frozenset({2002, 2003, 2006, 2013, 2055, 4031, 1927, 1053})
# Deadlock, lock wait timeout: try again.
MYSQL_RETRY_CODES = frozenset({1213, 1205})


def _error_code(exc: BaseException) -> int | None:
    cause = exc.__cause__ or exc
    args = getattr(cause, "args", ())
    if args and isinstance(args[0], int):
        return int(args[0])
    return None


def retry_lock_conflicts(run: Callable[[], T], tries: int = 5) -> T:
    """``run()``, again after a short pause when MySQL/MariaDB answers with a deadlock or a
    lock wait timeout (``run`` must be one whole transaction); other errors propagate."""
    from django.db import OperationalError

    for attempt in range(tries):
        try:
            return run()
        except OperationalError as exc:
            if _error_code(exc) not in MYSQL_RETRY_CODES or attempt == tries - 1:
                raise
            time.sleep(0.005 * (attempt + 1))
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def classify_db_error(exc: BaseException) -> ConnectorErrorKind:
    """Map a driver/Django DB error onto the runner's retry decision."""
    from django.db import utils

    code = _error_code(exc)
    if code in _MYSQL_DISCONNECTED or isinstance(exc, utils.InterfaceError):
        return ConnectorErrorKind.DISCONNECTED
    if isinstance(exc, utils.ProgrammingError):
        # e.g. the table does not exist: migrations were not applied
        return ConnectorErrorKind.MISCONFIGURED
    if isinstance(exc, utils.OperationalError):
        text = str(exc).lower()
        if "no such table" in text or "doesn't exist" in text:
            return ConnectorErrorKind.MISCONFIGURED
        return ConnectorErrorKind.TRANSIENT
    if isinstance(exc, utils.DatabaseError):
        return ConnectorErrorKind.TRANSIENT
    return ConnectorErrorKind.PERMANENT


def is_transient_db_error(exc: BaseException) -> bool:
    """Would the same statement succeed if tried again shortly?

    True for a busy or locked SQLite file, a deadlock, lock-wait timeout or serialization
    failure, and a dropped connection (the thread reconnects on its next call). False
    for a missing table, a bad statement or a constraint violation.
    """
    kind = classify_db_error(exc)
    if kind is ConnectorErrorKind.DISCONNECTED:
        return True
    from django.db import utils

    return kind is ConnectorErrorKind.TRANSIENT and isinstance(exc, utils.OperationalError)


def wrap_db_error(
    exc: BaseException, *, operation: ConnectorOperation, source_name: str
) -> ConnectorOperationError:
    kind = classify_db_error(exc)
    retry_delay_s = 1.0 if kind is ConnectorErrorKind.DISCONNECTED else None
    return ConnectorOperationError(
        backend="database",
        operation=operation,
        kind=kind,
        source_name=source_name,
        retry_delay_s=retry_delay_s,
        cause=exc,
    )


class DBThread:
    """One worker thread with its own connection to ``using``.

    ``await run(fn, ...)`` runs ``fn`` there. After a database error the thread's
    connection is closed if unusable (otherwise every later call in the thread would
    fail after a server restart) and the error is re-raised as
    ``ConnectorOperationError`` so the runner backs off instead of stopping.
    """

    def __init__(self, using: str, name: str) -> None:
        self.using = using
        self.name = name
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        return self._executor.submit(self._call, fn, *args)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        from django.db import DatabaseError, connections

        try:
            return fn(*args)
        except DatabaseError:
            with contextlib.suppress(Exception):
                connections[self.using].close_if_unusable_or_obsolete()
            raise

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        operation: ConnectorOperation,
        source_name: str,
    ) -> T:
        from django.db import DatabaseError

        try:
            return await asyncio.wrap_future(self.submit(fn, *args))
        except DatabaseError as exc:
            raise wrap_db_error(exc, operation=operation, source_name=source_name) from exc

    def close(self) -> None:
        """Close this thread's connection and stop the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self._close_connection).result(timeout=10)
        self._executor.shutdown(wait=True)

    def _close_connection(self) -> None:
        from django.db import connections

        with contextlib.suppress(Exception):
            connections[self.using].close()


# ----- one claim thread and one write thread per database alias, shared -----------------
#
# Every DatabaseQueue, dead-letter sink, state store and telemetry writer of a process
# uses these instead of threads (and connections) of its own: a worker with 30 tasks
# holds two connections per database, not sixty. On SQLite both roles are one thread,
# which is also what its single writer wants.

_registry_lock = threading.Lock()
_registry: dict[tuple[str, str], tuple[DBThread, int]] = {}


def acquire_thread(using: str, role: str) -> DBThread:
    """The shared ``role`` (``"claim"`` or ``"write"``) thread of ``using``; refcounted."""
    from django.db import connections

    if connections[using].vendor == "sqlite":
        role = "write"
    key = (using, role)
    with _registry_lock:
        thread, count = _registry.get(key, (None, 0))
        if thread is None or thread.closed:
            thread, count = DBThread(using, f"onestep-db-{using}-{role}"), 0
        _registry[key] = (thread, count + 1)
    return thread


def release_thread(thread: DBThread) -> None:
    """Drop one reference; the last one closes the thread and its connection."""
    with _registry_lock:
        for key, (candidate, count) in _registry.items():
            if candidate is thread:
                if count > 1:
                    _registry[key] = (thread, count - 1)
                    return
                del _registry[key]
                break
    thread.close()


# ----- background loops of DB writers (lease renewal, pruning, metrics, heartbeats) ------


# A busy SQLite file or a deadlock passes in milliseconds: housekeeping tries again at
# these delays before it gives the round up (a lease renewal must not wait a whole round).
_QUICK_RETRY_DELAYS_S = (0.05, 0.2, 0.5)


def _is_transient(exc: BaseException) -> bool:
    from django.db import DatabaseError

    if isinstance(exc, ConnectorOperationError):
        cause = exc.__cause__
        if isinstance(cause, DatabaseError):
            return is_transient_db_error(cause)
        return exc.kind in (ConnectorErrorKind.TRANSIENT, ConnectorErrorKind.DISCONNECTED)
    return isinstance(exc, DatabaseError) and is_transient_db_error(exc)


async def retry_transient(action: Callable[[], Awaitable[T]]) -> T:
    """``await action()``, tried again soon after a transient database error."""
    for delay_s in _QUICK_RETRY_DELAYS_S:
        try:
            return await action()
        except Exception as exc:
            if not _is_transient(exc):
                raise
        await asyncio.sleep(delay_s)
    return await action()


async def repeat_every(
    interval_s: float, action: Callable[[], Awaitable[Any]], *, logger: logging.Logger, failure: str
) -> None:
    """Await ``action()`` every ``interval_s`` until cancelled.

    A transient database error is tried again within the round (``retry_transient``).
    A failure that lasts (the database is down, say) is logged as ``failure`` and the
    loop goes on: the next round retries, so a worker's housekeeping survives database
    restarts.
    """
    while True:
        await asyncio.sleep(interval_s)
        try:
            await retry_transient(action)
        except Exception:
            logger.warning(failure, exc_info=True)


async def stop_task(task: asyncio.Task[Any] | None) -> bool:
    """Cancel ``task`` and wait for it; False when there was none."""
    if task is None:
        return False
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return True
