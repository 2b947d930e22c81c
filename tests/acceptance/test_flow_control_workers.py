"""Flow control across real ``onestep_worker`` processes, measured from the handlers'
own timestamps: a rate limit holds over three workers, and a per-key mutex never lets
two runs of one key overlap while other keys run meanwhile.

The 60/m case of the rate limit is the same code over a longer window: it is measured
in ``benchmarks/flow_control.py``, not here, to keep the suite fast.
"""

from __future__ import annotations

import itertools
import signal
from pathlib import Path
from typing import Any

import pytest

from django_onestep.models import Job
from tests.acceptance.flow_app import keyed_queue, rated_queue
from tests.waiting import poll

# the claims' SQL is covered on every database by tests/django/test_dbqueue_rate_limit.py
pytestmark = pytest.mark.sqlite_only
TARGET = "tests.acceptance.flow_app:app"


def runs(log: Path, task: str) -> list[tuple[str, int, float, float]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [
        (key, int(pid), float(start), float(end))
        for name, key, pid, start, end in (line.split() for line in lines)
        if name == task
    ]


def start_workers(manage: Any, log: Path, task: str, count: int) -> list[Any]:
    env = {"ONESTEP_TEST_RUN_LOG": str(log)}
    workers = [manage.start("onestep_worker", TARGET, "--tasks", task, env=env) for _ in range(count)]
    for worker in workers:
        worker.wait_for_output("onestep worker pid", timeout_s=120)
    return workers


def stop(workers: list[Any]) -> None:
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(60) == 0, worker.output()


def test_rate_limit_holds_across_three_workers(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    workers = start_workers(manage, log, "rated", 3)
    jobs = 15  # 5 per 2 s: three windows' worth, ~4 s
    rated_queue.send_many([{"n": n} for n in range(jobs)])
    poll(lambda: len(runs(log, "rated")) >= jobs, "every rate-limited job run", timeout_s=60)
    stop(workers)
    starts = sorted(start for _key, _pid, start, _end in runs(log, "rated"))
    assert len(starts) == jobs
    max_runs, window_s = rated_queue.rate_limit.max_runs, rated_queue.rate_limit.window_s  # type: ignore[union-attr]
    busiest = max(sum(1 for s in starts[i:] if s < first + window_s) for i, first in enumerate(starts))
    assert busiest == max_runs, f"{busiest} runs in one {window_s}s window: {starts}"
    assert starts[-1] - starts[0] >= 2 * window_s * 0.9  # three windows' worth took two windows at least
    assert set(Job.objects.filter(queue="flow-rated").values_list("attempts", flat=True)) == {1}


def test_one_key_never_overlaps_while_other_keys_run(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    workers = start_workers(manage, log, "per_customer", 2)
    # Each customer's jobs are queued together, so a key blocks the head of the queue.
    # Six keys against four slots a worker: one worker cannot hold every key, so the
    # other one always has a key to run, and the mutex is tested across processes.
    keys = "abcdef"
    keyed_queue.send_many([{"customer": c} for c in keys for _ in range(4)])
    poll(lambda: len(runs(log, "keyed")) >= 4 * len(keys), "every keyed job run", timeout_s=60)
    stop(workers)
    done = runs(log, "keyed")
    for key in keys:
        mine = sorted((start, end) for k, _pid, start, end in done if k == key)
        assert len(mine) == 4
        for (_s1, end1), (start2, _e2) in itertools.pairwise(mine):
            assert start2 >= end1, f"two runs of key {key!r} overlapped: {mine}"
    overlapping = [
        (one, other)
        for one, other in itertools.combinations(done, 2)
        if one[0] != other[0] and one[2] < other[3] and other[2] < one[3]
    ]
    assert overlapping, "no two keys ever ran at the same time"
    assert len({pid for _k, pid, _s, _e in done}) == 2  # both workers took part
    assert set(Job.objects.filter(queue="flow-keyed").values_list("attempts", flat=True)) == {1}
