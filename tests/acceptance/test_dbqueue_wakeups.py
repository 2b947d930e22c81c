"""On PostgreSQL an idle ``manage.py onestep_worker`` starts a job another process
enqueued at once, not at its next idle poll (backed off to 10 s apart in this test)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from django_onestep.dbqueue.queue import DatabaseQueue
from tests.acceptance.test_dbqueue_reliability import poll, run_lines, start_worker, worker_env


def test_an_idle_worker_starts_a_job_from_another_process_long_before_its_next_poll(
    manage: Any, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY wake-ups are PostgreSQL's; other databases poll")
    log = tmp_path / "runs.log"
    worker = start_worker(manage, worker_env(log), "--tasks", "wakeup")
    worker.wait_for_output("onestep worker pid", timeout_s=60)
    queue = DatabaseQueue("reliability-wakeup")
    time.sleep(4.0)  # idle long enough that its polls are 10 s apart
    queue.send({"n": 0, "sent_at": time.time()})  # this test's process, not the worker's
    poll(lambda: bool(run_lines(log)), "the wake-up job ran", timeout_s=9)
    worker.signal(15)
    assert worker.wait(60) == 0, worker.output()
    latencies_s = [float(line.split()[2]) for line in run_lines(log)]
    assert len(latencies_s) == 1 and latencies_s[0] < 1.0, latencies_s
