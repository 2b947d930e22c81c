"""Batch handlers under the real ``manage.py onestep_worker`` on the database queue:
batches fill or close at their window, and a SIGKILL in the middle of a batch loses
none of its jobs."""

from __future__ import annotations

import collections
import signal
from pathlib import Path
from typing import Any

import pytest

from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter, Job
from tests.waiting import poll

TARGET = "tests.acceptance.batch_app:app"
JOBS = 200
KILL_AT = 120


def run_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def statuses() -> dict[str, int]:
    return dict(
        collections.Counter(Job.objects.filter(queue="batch-acceptance").values_list("status", flat=True))
    )


def test_a_sigkill_mid_batch_loses_nothing(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    env = {"ONESTEP_TEST_RUN_LOG": str(log), "ONESTEP_TEST_KILL_AT": str(KILL_AT)}
    DatabaseQueue("batch-acceptance").send_many([{"n": n} for n in range(JOBS)])
    worker = manage.start("onestep_worker", TARGET, "--tasks", "work", env=env)
    assert worker.wait(120) == -signal.SIGKILL, worker.output()
    killed = [int(line.split()[1]) for line in run_lines(log) if line.startswith("killed")]
    assert KILL_AT in killed and len(killed) > 1  # it died holding a batch of several jobs
    assert Job.objects.filter(queue="batch-acceptance", payload__n__in=killed).exclude(
        status="done"
    ).count() == len(killed)  # none of the batch it held was settled

    worker = manage.start(
        "onestep_worker", TARGET, "--tasks", "work", env=env
    )  # the held jobs come back by lease
    poll(lambda: statuses() == {"done": JOBS}, "every job done", timeout_s=120)
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()
    done = collections.Counter(
        int(line.split()[0]) for line in run_lines(log) if not line.startswith("killed")
    )
    assert set(done) == set(range(JOBS))  # 0 lost
    assert [n for n, count in done.items() if count != 1] == []  # the killed batch ran once more, no other
    assert DeadLetter.objects.count() == 0
    reclaimed = Job.objects.filter(queue="batch-acceptance", payload__n__in=killed)
    assert {job.attempts for job in reclaimed} == {2}  # the killed claim and the one that finished


@pytest.mark.sqlite_only  # the window is the runner's, whatever the database: once is enough
def test_25_jobs_then_idle_give_batches_of_10_10_and_5_the_last_a_window_later(
    manage: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    DatabaseQueue("batch-acceptance-sizes").send_many([{"n": n} for n in range(25)])
    result = manage.run(
        "onestep_worker", TARGET, "--tasks", "sizes", "--once", env={"ONESTEP_TEST_RUN_LOG": str(log)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    batches = [(int(size), float(at)) for size, at in (line.split() for line in run_lines(log))]
    assert [size for size, _ in batches] == [10, 10, 5]
    assert 0.9 <= batches[2][1] - batches[1][1] < 2.0
