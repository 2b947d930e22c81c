"""The MySQL table queue with real worker processes: three at once, and one SIGKILLed mid-batch."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.integration.apps.worker_process import (
    ROOT,
    freeze,
    records,
    sigkill,
    start_worker,
    stop,
    thaw,
)
from tests.integration.mysql_tables import execute, orders_table, statuses
from tests.needs import require_module
from tests.waiting import wait_until

require_module("MySQLdb")

TARGET = "tests.integration.apps.mysql_worker_app:app"


def test_three_workers_ack_2000_rows_exactly_once(mysql_url: str, tmp_path: Path) -> None:
    table, out, total = orders_table(mysql_url, 2000), tmp_path / "handled.txt", 2000
    # A long lease: nobody dies here, and a loaded machine must not expire a live claim.
    env = {
        "I8_MYSQL_URL": mysql_url,
        "I8_TABLE": table,
        "I8_OUT": str(out),
        "I8_WORK_S": "0",
        "I8_LEASE_S": "60",
    }
    workers = [start_worker(TARGET, env, tmp_path / f"worker{n}.log") for n in range(3)]
    try:
        wait_until(
            lambda: statuses(mysql_url, table) == {"done": total},
            60,
            "every row done",
            state=lambda: statuses(mysql_url, table),
        )
    finally:
        codes = [stop(worker) for worker in workers]
    assert codes == [0, 0, 0], (tmp_path / "worker0.log").read_text()[-2000:]
    handled = Counter(i for i, _ in records(out))
    assert set(handled) == set(range(1, total + 1))
    assert max(handled.values()) == 1  # no row was claimed twice


def test_rows_claimed_by_a_sigkilled_worker_are_processed_after_the_lease(
    mysql_url: str, tmp_path: Path
) -> None:
    table, out, total = orders_table(mysql_url, 300), tmp_path / "handled.txt", 300
    env = {"I8_MYSQL_URL": mysql_url, "I8_TABLE": table, "I8_OUT": str(out), "I8_WORK_S": "0.05"}
    log = tmp_path / "worker.log"
    worker = start_worker(TARGET, env, log)

    def frozen_with_rows_claimed() -> bool:
        """Stop the worker; keep it stopped if it holds claimed rows it has not handled yet.

        Its claims of 16 rows all finish together and are acked in one commit, so a count of
        rows claimed, read while it runs, can be 0 by the time the kill lands. Stopped, it
        can neither handle a row nor send an ack, and a row not in the record file was
        never handled, so no ack for it is on its way either: such a row stays claimed.
        """
        freeze(worker)
        handled = {i for i, _ in records(out)}
        claimed = {
            int(i) for (i,) in execute(mysql_url, f"SELECT id FROM {table} WHERE status = 'processing'")
        }
        if len(handled) >= 20 and claimed - handled:
            return True
        thaw(worker)
        return False

    try:
        wait_until(frozen_with_rows_claimed, 30, "progress, and rows claimed, before the kill")
    finally:
        sigkill(worker)
    claimed = statuses(mysql_url, table).get("processing", 0)
    assert claimed > 0, "the kill came when nothing was claimed"
    worker = start_worker(TARGET, env, log)
    try:
        wait_until(
            lambda: statuses(mysql_url, table) == {"done": total},
            60,
            "every row done",
            state=lambda: statuses(mysql_url, table),
        )
    finally:
        assert stop(worker) == 0, log.read_text()[-2000:]
    rows = records(out)
    assert {i for i, _ in rows} == set(range(1, total + 1))  # 0 lost
    assert max(attempts for _, attempts in rows) == 1  # the killed claim counted as an attempt
    assert execute(
        mysql_url, "SELECT COUNT(*) FROM onestep_table_claims WHERE table_name = %s", (table,)
    ) == [(0,)]


def test_a_bad_column_stops_the_worker_with_exit_2_naming_it(mysql_url: str, tmp_path: Path) -> None:
    table = orders_table(mysql_url, 0)
    execute(mysql_url, f"ALTER TABLE {table} CHANGE status state VARCHAR(20) NOT NULL")
    env = {"I8_MYSQL_URL": mysql_url, "I8_TABLE": table, "I8_OUT": str(tmp_path / "out")}
    for command in ("check", "run"):
        result = subprocess.run(
            [sys.executable, "-m", "django_onestep", command, TARGET],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        expected = f"mysql table_queue {table!r} claim: column 'status' is not in table {table!r}"
        assert expected in result.stdout + result.stderr
