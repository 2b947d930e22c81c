"""The worker survives its database crashing and coming back (private MariaDB server).

A real ``onestep_worker`` drains a DatabaseQueue on a MariaDB server of its own; the
server is SIGKILLed mid-run and restarted on the same port. The worker must not exit:
fetch errors are wrapped as ``ConnectorOperationError(kind="disconnected")`` and backed
off, its thread connections are replaced, and unsettled jobs come back after the lease.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.acceptance.conftest import ROOT, ManagePy
from tests.servers import MariaDBServer

pytestmark = [
    pytest.mark.sqlite_only,  # it brings its own server: once per suite run is enough
    pytest.mark.skipif(shutil.which("mariadbd") is None, reason="mariadbd is not installed"),
]

JOBS = 300


def query(server: MariaDBServer, sql: str) -> list[list[str]]:
    done = subprocess.run(
        [
            "mariadb",
            "--no-defaults",
            "-h127.0.0.1",
            f"-P{server.port}",
            "-uroot",
            "-N",
            "-B",
            "onestep",
            "-e",
            sql,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split("\t") for line in done.stdout.splitlines()]


def job_statuses(server: MariaDBServer) -> dict[str, int]:
    try:
        rows = query(server, "SELECT status, COUNT(*) FROM django_onestep_job GROUP BY status")
    except subprocess.CalledProcessError:
        return {}
    return {status: int(count) for status, count in rows}


def test_worker_survives_a_database_crash(tmp_path: Path) -> None:
    server = MariaDBServer(tmp_path / "mariadb").start()
    log = tmp_path / "runs.log"
    env = {
        **os.environ,
        "DATABASE_URL": server.url,
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "ONESTEP_TEST_RUN_LOG": str(log),
        "ONESTEP_TEST_LEASE_S": "2",
    }
    manage = ManagePy(env, tmp_path)
    try:
        migrated = manage.run("migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr
        enqueue = (
            "from django_onestep.dbqueue.queue import DatabaseQueue; "
            f"DatabaseQueue('reliability-work').send_many([{{'n': n, 'sleep_s': 0.02}} for n in range({JOBS})])"
        )
        done = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", enqueue],
            env=env,
            cwd=ROOT,
            capture_output=True,
        )
        assert done.returncode == 0, done.stderr
        worker = manage.start("onestep_worker", "tests.acceptance.dbqueue_app:app", "--tasks", "work")
        deadline = time.monotonic() + 120
        while len(log.read_text().splitlines() if log.exists() else []) < 30:
            assert time.monotonic() < deadline, worker.output()
            assert worker.popen.poll() is None, worker.output()
            time.sleep(0.05)

        server.kill()
        time.sleep(3.0)  # the worker keeps polling a dead server for a while
        assert worker.popen.poll() is None, worker.output()
        server.start()

        deadline = time.monotonic() + 180
        while job_statuses(server) != {"done": JOBS}:
            assert time.monotonic() < deadline, f"{job_statuses(server)}\n{worker.output()}"
            assert worker.popen.poll() is None, worker.output()
            time.sleep(0.2)
        worker.signal(signal.SIGTERM)
        assert worker.wait(60) == 0, worker.output()
        output = worker.output()
        assert "source fetch degraded; backing off" in output
        runs = collections.Counter(int(line.split()[0]) for line in log.read_text().splitlines())
        assert set(runs) == set(range(JOBS))  # nothing lost across the crash
    finally:
        manage.close()
        server.stop()
