"""The durable database queue. ``DatabaseQueue`` lives in ``queue.py``."""

from __future__ import annotations

from typing import Any

__all__ = ["DatabaseQueue"]


def __getattr__(name: str) -> Any:
    if name == "DatabaseQueue":
        from django_onestep.dbqueue.queue import DatabaseQueue

        return DatabaseQueue
    raise AttributeError(name)
