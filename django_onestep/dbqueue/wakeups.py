"""PostgreSQL wake-ups: an enqueue NOTIFYs, idle workers LISTEN and claim at once.

An enqueue runs ``SELECT pg_notify('django_onestep_enqueued', <queue name>)`` in the
enqueuing transaction (``enqueue.py``), so PostgreSQL delivers the notification only
if that transaction commits. Each worker process holds one more connection per
database alias, in autocommit, that LISTENs on that channel on a thread of its own and
wakes the process's open queues of that name: an idle queue claims at once instead of
at its next poll. Polling stays the safety net. A listener that lost its connection
reconnects after a second and then wakes every queue, since what was sent meanwhile
was not heard.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from typing import Any

from django_onestep.dbqueue.enqueue import CHANNEL, notify_enqueued, wake_all

__all__ = ["PostgresListener", "acquire_listener", "release_listener"]

logger = logging.getLogger("django_onestep.dbqueue")

_RECONNECT_DELAY_S = 1.0


def _connect(using: str) -> Any:
    """A new psycopg 3 connection in autocommit, with the alias's own parameters."""
    import psycopg
    from django.db import connections

    params = connections[using].get_connection_params()
    for django_only in ("cursor_factory", "context"):
        params.pop(django_only, None)
    return psycopg.connect(**params, autocommit=True)


class PostgresListener:
    """One LISTEN connection and its thread for one database alias."""

    def __init__(self, using: str) -> None:
        self.using = using
        self._stop = threading.Event()
        # stop() writes here, so a select() waiting for notifications returns at once
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"onestep-listen-{using}", daemon=True)
        self._warned = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = None
            try:
                conn = _connect(self.using)
                conn.execute(f"LISTEN {CHANNEL}")
                wake_all(self.using)  # anything sent before LISTEN was not heard
                self._warned = False
                self._listen(conn)
            except Exception as exc:
                if not self._warned:  # once per outage, not once a second
                    logger.warning(
                        "LISTEN for new jobs on %r failed (%s); polling meanwhile", self.using, exc
                    )
                    self._warned = True
                self._stop.wait(_RECONNECT_DELAY_S)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()

    def _listen(self, conn: Any) -> None:
        fd = conn.fileno()
        while not self._stop.is_set():
            readable, _, _ = select.select([fd, self._stop_r], [], [])
            if fd in readable and not self._stop.is_set():
                # read what arrived without a round trip to the server (a lost
                # connection raises here, and _run reconnects)
                pgconn = conn.pgconn
                pgconn.consume_input()
                while (notification := pgconn.notifies()) is not None:
                    notify_enqueued(notification.extra.decode(), self.using)


_registry_lock = threading.Lock()
_registry: dict[str, tuple[PostgresListener, int]] = {}


def acquire_listener(using: str) -> PostgresListener | None:
    """The shared listener of ``using`` (refcounted); None unless it is PostgreSQL with psycopg 3."""
    from django.db import connections

    if connections[using].vendor != "postgresql":
        return None
    try:
        import psycopg  # noqa: F401
    except ImportError:  # psycopg2: no listener, the queues poll
        return None
    with _registry_lock:
        listener, count = _registry.get(using, (None, 0))
        if listener is None:
            listener = PostgresListener(using)
            listener.start()
        _registry[using] = (listener, count + 1)
    return listener


def release_listener(listener: PostgresListener) -> None:
    """Drop one reference; the last one stops the thread and closes its connection."""
    with _registry_lock:
        _, count = _registry.get(listener.using, (listener, 1))
        if count > 1:
            _registry[listener.using] = (listener, count - 1)
            return
        _registry.pop(listener.using, None)
    listener.stop()
