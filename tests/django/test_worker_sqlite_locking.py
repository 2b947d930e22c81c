"""The worker gives its SQLite connections IMMEDIATE transactions and a busy timeout
when the project's settings name none (a new project's SQLite settings)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import Job
from django_onestep.worker.sqlite_locking import BUSY_TIMEOUT_S, use_immediate_transactions

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def new_project_options() -> Iterator[dict[str, Any]]:
    """The test database's connection with no OPTIONS, as `startproject` writes it."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's transaction mode")
    saved = connection.settings_dict.get("OPTIONS", {})
    connection.close()
    connection.settings_dict["OPTIONS"] = {}
    try:
        yield connection.settings_dict["OPTIONS"]
    finally:
        connection.close()
        connection.settings_dict["OPTIONS"] = saved


def test_unset_options_get_immediate_transactions_and_a_busy_timeout(
    new_project_options: dict[str, Any],
) -> None:
    assert use_immediate_transactions() == ["default"]
    assert new_project_options == {"transaction_mode": "IMMEDIATE", "timeout": BUSY_TIMEOUT_S}
    assert use_immediate_transactions() == []  # set already: nothing to change


def test_a_projects_own_choice_is_kept(new_project_options: dict[str, Any]) -> None:
    new_project_options.update(transaction_mode="DEFERRED", timeout=3)
    assert use_immediate_transactions() == []
    assert new_project_options == {"transaction_mode": "DEFERRED", "timeout": 3}


def test_a_read_then_write_transaction_waits_for_another_writer(new_project_options: dict[str, Any]) -> None:
    # DEFERRED: the read pins a snapshot, and writing after another process committed
    # fails at once with "database is locked". IMMEDIATE: BEGIN waits for the writer.
    use_immediate_transactions()
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute(f"UPDATE {Job._meta.db_table} SET priority = priority WHERE id = -1")

    def commit_later() -> None:
        time.sleep(0.3)
        other.execute("COMMIT")

    committer = threading.Thread(target=commit_later)
    committer.start()
    try:
        with transaction.atomic():
            Job.objects.filter(queue="read-then-write").count()
            DatabaseQueue("read-then-write").send({})
    finally:
        committer.join()
        other.close()
    assert Job.objects.filter(queue="read-then-write").count() == 1
