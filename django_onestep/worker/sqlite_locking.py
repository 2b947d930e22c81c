"""SQLite in a worker: transactions take the write lock when they begin, and wait for it.

Django's SQLite transactions are DEFERRED: one that reads and then writes (a dead letter
with its job's status, a heartbeat upsert) fails at once with "database is locked" when
another process wrote in between, because SQLite cannot let it wait there without
risking a deadlock. An IMMEDIATE transaction takes the lock at ``BEGIN``, where the busy
timeout lets it wait its turn. When the project leaves them unset, the worker sets both
for its own connections (``django_onestep.W001`` recommends them for every process).
"""

from __future__ import annotations

import logging

__all__ = ["BUSY_TIMEOUT_S", "use_immediate_transactions"]

BUSY_TIMEOUT_S = 20.0  # Django's default is sqlite3's 5 s

logger = logging.getLogger("django_onestep.worker")


def use_immediate_transactions() -> list[str]:
    """Give this process's SQLite connections IMMEDIATE transactions and a busy timeout
    where the settings name none; returns the aliases changed."""
    from django.db import connections

    changed: list[str] = []
    for alias in connections:
        connection = connections[alias]
        if connection.vendor != "sqlite":
            continue
        options = connection.settings_dict.setdefault("OPTIONS", {})
        if "transaction_mode" in options and "timeout" in options:
            continue
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", BUSY_TIMEOUT_S)
        connection.close()  # an open connection keeps its old mode: the next one gets these
        changed.append(alias)
        logger.debug(
            "SQLite database %r: transaction_mode %s, busy timeout %s s in this worker",
            alias, options["transaction_mode"], options["timeout"],
        )  # fmt: skip
    return changed
