"""A terminal outcome is written again when its write fails, never the handler run again.

Two ``manage.py onestep_worker`` processes share one database (on SQLite, one file) and
a stream of ordinary jobs, and one of them is restarted mid-run; 20 poison jobs under
``MaxAttempts(3)`` must each run exactly 3 times and leave exactly one dead letter. The
second case makes the first two writes of every dead letter fail as a busy SQLite file
does ("database is locked"), on whichever database the suite runs. The third runs the
workers with a new project's SQLite settings (no OPTIONS).
"""

from __future__ import annotations

import collections
import signal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter
from tests.acceptance.test_dbqueue_reliability import poll, run_lines, start_worker, statuses, worker_env

POISON_JOBS = 20
WORK_JOBS = 300
ARGS = ("--tasks", "always_fails,work", "--concurrency", "4")
# no OPTIONS: DEFERRED transactions, a 5 s busy timeout
NEW_PROJECT_SQLITE = "tests.acceptance.new_project_sqlite_settings"


def poison_runs(log: Path) -> collections.Counter[int]:
    return collections.Counter(int(line.split()[1]) for line in run_lines(log) if line.startswith("fails "))


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("locked_writes", "settings"),
    [(0, "testproject.settings"), (2, "testproject.settings"), (0, NEW_PROJECT_SQLITE)],
    ids=["plain", "dead-letter-writes-locked-twice", "new-project-sqlite-settings"],
)
def test_two_workers_run_each_poison_job_three_times_and_dead_letter_it_once(
    manage: Any, tmp_path: Path, locked_writes: int, settings: str
) -> None:
    if settings == NEW_PROJECT_SQLITE and connection.vendor != "sqlite":
        pytest.skip("SQLite's own settings")
    log = tmp_path / "runs.log"
    env = worker_env(
        log, ONESTEP_TEST_LOCKED_DEAD_LETTERS=str(locked_writes), DJANGO_SETTINGS_MODULE=settings
    )
    workers = [start_worker(manage, env, *ARGS) for _ in range(2)]
    for worker in workers:
        worker.wait_for_output("onestep worker pid", timeout_s=60)
    DatabaseQueue("reliability-work").send_many([{"n": n, "sleep_s": 0.005} for n in range(WORK_JOBS)])
    DatabaseQueue("reliability-fails").send_many([{"n": n} for n in range(POISON_JOBS)])

    poll(lambda: sum(poison_runs(log).values()) >= POISON_JOBS, "every poison job ran once", timeout_s=60)
    workers[0].signal(signal.SIGTERM)  # a restart mid-run, as in production deploys
    assert workers[0].wait(60) == 0, workers[0].output()
    stopped = workers[0]
    workers[0] = start_worker(manage, env, *ARGS)
    workers[0].wait_for_output("onestep worker pid", timeout_s=60)  # its SIGTERM handler is in place
    poll(
        lambda: statuses("reliability-fails") == {"dead": POISON_JOBS}, "every poison job dead", timeout_s=90
    )
    poll(lambda: statuses("reliability-work") == {"done": WORK_JOBS}, "every job done", timeout_s=60)
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(60) == 0, worker.output()

    assert poison_runs(log) == {n: 3 for n in range(POISON_JOBS)}
    dead = collections.Counter(
        DeadLetter.objects.filter(task="always_fails").values_list("job_id", flat=True)
    )
    assert len(dead) == POISON_JOBS and set(dead.values()) == {1}
    if not locked_writes:  # nothing was injected: no write of any kind met a lock
        for worker in (stopped, *workers):
            assert "database is locked" not in worker.output(), worker.output()
    locked = [line for line in run_lines(log) if line.startswith("locked dead letter")]
    assert len(locked) >= POISON_JOBS * locked_writes  # the injected failures did happen
