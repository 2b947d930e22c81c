"""The relay beside a worker or in ``manage.py onestep_relay``: a thread with its own connection.

It polls for due outbox rows every ``poll_interval_s`` (one indexed query when there
are none) and, while rows are waiting, runs passes back to back.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connections

from django_onestep.outbox.relay import OutboxRelay

__all__ = ["RelayThread"]

logger = logging.getLogger("django_onestep.outbox.relay")


class RelayThread:
    def __init__(self, relay: OutboxRelay, *, poll_interval_s: float = 0.5) -> None:
        self.relay = relay
        self.poll_interval_s = poll_interval_s
        self.published = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="onestep-outbox-relay", daemon=True)
        self._thread.start()

    def run(self) -> None:
        """Relay until ``stop()``; errors (a database or broker away) are logged and retried."""
        try:
            while not self._stop.is_set():
                close_old_connections()
                try:
                    result = self.relay.run_once()
                except Exception:
                    logger.exception("outbox relay: a pass failed; trying again")
                    self._stop.wait(self.poll_interval_s * 4)
                    continue
                self.published += result.published
                if result.claimed < self.relay.batch_size:
                    self._stop.wait(self.poll_interval_s)
        finally:
            connections[self.relay.using].close()

    def stop_soon(self) -> None:
        """Ask ``run`` to return after the pass under way (safe from a signal handler)."""
        self._stop.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the pass under way (its rows are settled), then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
