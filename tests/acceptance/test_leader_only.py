"""``@app.task(leader_only=True)`` with three real ``onestep_worker`` processes: one leader
fires every tick; after a SIGKILL of the leader exactly one other worker takes over
within the lease (``ONESTEP["LEASE_S"]`` = 3 s here), and no two runs ever overlap.
"""

from __future__ import annotations

import itertools
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import poll

pytestmark = (
    pytest.mark.sqlite_only
)  # the election is one conditional UPDATE: tests/django covers each database
TARGET = "tests.acceptance.leader_app:app"
LEASE_S = 3.0


def runs(log: Path) -> list[tuple[str, int, float, float]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [
        (at, int(pid), float(start), float(end)) for at, pid, start, end in (line.split() for line in lines)
    ]


def test_one_leader_fires_and_one_survivor_takes_over_after_a_kill(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    env = {"ONESTEP_TEST_RUN_LOG": str(log), "DJANGO_SETTINGS_MODULE": "tests.acceptance.leader_settings"}
    workers = [manage.start("onestep_worker", TARGET, env=env) for _ in range(3)]
    for worker in workers:
        worker.wait_for_output("onestep worker pid", timeout_s=120)
    first_at = len(runs(log))
    poll(lambda: len(runs(log)) >= first_at + 10, "10 ticks with three workers", timeout_s=60)
    before = runs(log)
    assert len({pid for _at, pid, _s, _e in before}) == 1, "more than one worker fired"
    leader_pid = before[-1][1]
    leader = next(worker for worker in workers if worker.pid == leader_pid)
    leader.kill()  # SIGKILL: the lease is not released, it expires
    killed_at = time.time()
    poll(lambda: len(runs(log)) >= len(before) + 3, "3 ticks after the kill", timeout_s=30)
    for worker in workers:
        if worker is not leader:
            worker.signal(signal.SIGTERM)
    for worker in workers:
        if worker is not leader:
            assert worker.wait(60) == 0, worker.output()
    after = runs(log)[len(before) :]
    assert len({pid for _at, pid, _s, _e in after}) == 1, "more than one worker took over"
    assert after[0][1] != leader_pid
    failover_s = after[0][2] - killed_at
    assert failover_s < LEASE_S + 2, f"the new leader fired {failover_s:.1f}s after the kill"
    every = runs(log)
    assert len({at for at, _pid, _s, _e in every}) == len(every), "a tick fired twice"
    by_start = sorted(every, key=lambda run: run[2])
    for earlier, later in itertools.pairwise(by_start):
        if earlier[1] != later[1]:
            assert later[2] >= earlier[3], f"two workers ran at once: {earlier} {later}"
