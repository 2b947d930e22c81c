"""A hard time limit kills a stuck sync handler through ``manage.py onestep_worker``.

``spin`` loops for ever in a child process under ``time_limit_s=2`` and
``MaxAttempts(2)``: each attempt is killed within 3 s, the job is dead-lettered after
its two attempts, and ``tick`` jobs in the same worker keep running meanwhile.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter
from tests.waiting import poll

TARGET = "tests.acceptance.process_app:app"


def test_a_spinning_handler_is_killed_within_3_s_per_attempt_and_dead_lettered(
    manage: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    job_id = DatabaseQueue("processes-spin").send({"spin": True})
    worker = manage.start("onestep_worker", TARGET, env={"ONESTEP_TEST_RUN_LOG": str(log)})
    poll(lambda: "spin-start 0" in (log.read_text() if log.exists() else ""), "the first attempt to start")
    DatabaseQueue("processes-tick").send_many([{"n": n} for n in range(20)])  # while it spins
    poll(lambda: DeadLetter.objects.filter(task="spin").exists(), "the dead letter", timeout_s=30)
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.output()
    output = worker.output()

    [dead] = DeadLetter.objects.filter(task="spin")
    assert (dead.job_id, dead.attempts + 1, dead.failure_kind, dead.exception_type) == (  # runs
        int(job_id),
        2,
        "timeout",
        "HardTimeLimitExceeded",
    )
    # how long each attempt's handler ran before its child was killed: 2 s, within 3 s
    killed_after_s = [
        float(seconds)
        for seconds in re.findall(
            r"task spin failed \(HardTimeLimitExceeded: .*? killed after ([\d.]+) s", output
        )
    ]
    assert len(killed_after_s) == 2, output
    assert all(2.0 <= seconds < 3.0 for seconds in killed_after_s), killed_after_s

    lines = [line.split() for line in log.read_text().splitlines()]
    spins = [(int(parts[1]), int(parts[2]), float(parts[3])) for parts in lines if parts[0] == "spin-start"]
    assert [attempt for attempt, _, _ in spins] == [0, 1]
    assert spins[0][1] != spins[1][1]  # the killed child was replaced
    ticks = [float(parts[2]) for parts in lines if parts[0] == "tick"]
    assert len(ticks) == 20
    # the worker ran them while the first attempt spun
    assert sum(1 for t in ticks if spins[0][2] < t < spins[0][2] + 2) >= 5, (spins, ticks)
