"""PostgreSQL: a finished job NOTIFYs, and a waiting handle LISTENs instead of polling.

A settlement that finishes jobs (``dbqueue/settle.py``) and ``cancel()`` send
``pg_notify('django_onestep_finished', '<id>,<id>,...')`` in their transaction, so it
is heard only once they commit. ``FinishedListener`` is the waiting side: its own
autocommit connection LISTENs *before* the job is read, so a job finishing in between
is not missed; polling at a slow pace stays the safety net (an expiry, a notification
lost with a dropped connection).
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["FINISHED_CHANNEL", "FinishedListener", "notify_finished"]

FINISHED_CHANNEL = "django_onestep_finished"  # payload: finished job ids, comma-separated
_CHUNK = 500  # 500 ids stay far below NOTIFY's 8000 bytes


def notify_finished(connection: Any, job_ids: list[int]) -> None:
    """In the current transaction of ``connection``; nothing on other databases."""
    if connection.vendor != "postgresql" or not job_ids:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(job_ids), _CHUNK):
            payload = ",".join(str(job_id) for job_id in job_ids[start : start + _CHUNK])
            cursor.execute("SELECT pg_notify(%s, %s)", [FINISHED_CHANNEL, payload])


class FinishedListener:
    """LISTEN for one job's end on a connection of its own (a context manager)."""

    def __init__(self, using: str, job_id: int) -> None:
        self.using = using
        self.job_id = str(job_id)
        self._conn: Any = None

    @classmethod
    def open(cls, using: str, job_id: int) -> FinishedListener | None:
        """Listening, or None when the database cannot notify (not PostgreSQL, psycopg2)."""
        from django.db import connections

        if connections[using].vendor != "postgresql":
            return None
        try:
            import psycopg
        except ImportError:
            return None
        listener = cls(using, job_id)
        params = connections[using].get_connection_params()
        for django_only in ("cursor_factory", "context"):
            params.pop(django_only, None)
        try:
            listener._conn = psycopg.connect(**params, autocommit=True)
            listener._conn.execute(f"LISTEN {FINISHED_CHANNEL}")
        except Exception:  # no notifications: the caller polls
            listener.close()
            return None
        return listener

    def heard(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a notification naming the job; True if one came."""
        try:
            for note in self._conn.notifies(timeout=timeout_s):
                if self.job_id in note.payload.split(","):
                    return True
        except Exception:
            return False
        return False

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
