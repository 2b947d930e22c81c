"""DatabaseQueue reliability with the real ``manage.py onestep_worker`` (SQLite and MariaDB).

The worker runs ``tests.acceptance.dbqueue_app:app``; each handler run appends a line to
a run log, so the tests count exactly how often every job ran. (The worker surviving a
database crash is in test_dbqueue_db_restart.py; a late ack after a lost lease in
tests/django/test_dbqueue.py.)
"""

from __future__ import annotations

import collections
import random
import signal
import time
from pathlib import Path
from typing import Any

from django.db import transaction

from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter, Job, StateEntry
from tests.waiting import poll

TARGET = "tests.acceptance.dbqueue_app:app"
JOBS = 2000
KILLS = 5
CONCURRENCY = 4


def run_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def statuses(queue: str) -> dict[str, int]:
    counts = collections.Counter(Job.objects.filter(queue=queue).values_list("status", flat=True))
    return dict(counts)


def worker_env(log: Path, **extra: str) -> dict[str, str]:
    return {"ONESTEP_TEST_RUN_LOG": str(log), "ONESTEP_TEST_LEASE_S": "2", **extra}


def start_worker(manage: Any, env: dict[str, str], *args: str) -> Any:
    return manage.start("onestep_worker", TARGET, *args, env=env)


def test_sigkill_five_times_loses_nothing_and_strands_nothing(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    env = worker_env(log)
    DatabaseQueue("reliability-work").send_many([{"n": n, "sleep_s": 0.002} for n in range(JOBS)])
    rng = random.Random(20261123)
    args = ("--tasks", "work", "--concurrency", str(CONCURRENCY))
    worker = start_worker(manage, env, *args)
    for kill in range(KILLS):
        target = len(run_lines(log)) + rng.randint(60, 200)
        poll(lambda t=target: len(run_lines(log)) >= t, f"{target} runs before kill {kill + 1}")  # type: ignore[misc]
        worker.kill()  # SIGKILL
        assert worker.popen.returncode == -signal.SIGKILL
        worker = start_worker(manage, env, *args)
    # jobs held by the killed workers come back after their 2 s lease
    poll(
        lambda: statuses("reliability-work") == {"done": JOBS},
        "every job done",
        timeout_s=180,
        state=lambda: statuses("reliability-work"),
    )
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()

    runs = collections.Counter(int(line.split()[0]) for line in run_lines(log))
    assert set(runs) == set(range(JOBS))  # 0 lost
    assert statuses("reliability-work") == {"done": JOBS}  # 0 stranded
    # the kills did hit claimed work: those jobs came back through the lease sweep
    assert sum(Job.objects.filter(queue="reliability-work").values_list("reclaims", flat=True)) >= 1
    duplicates = sum(count - 1 for count in runs.values())
    # per kill, the documented bound: the running handlers plus the finished jobs whose
    # ack was not yet durable (max(concurrency, batch_size) of them may wait for it)
    in_flight = CONCURRENCY + max(CONCURRENCY, DatabaseQueue("reliability-work").batch_size)
    assert duplicates <= in_flight * KILLS, f"{duplicates} duplicate runs"
    # a job that ran twice was claimed twice: attempts count every claim
    twice = [n for n, count in runs.items() if count > 1]
    attempts = dict(Job.objects.filter(queue="reliability-work").values_list("payload__n", "attempts"))
    assert all(attempts[n] >= 2 for n in twice)


def test_jobs_claimed_ahead_by_a_killed_worker_come_back(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    env = worker_env(log)
    queue = "reliability-prefetch"
    DatabaseQueue(queue).send_many([{"n": n, "sleep_s": 30.0 if n == 0 else 0.001} for n in range(10)])
    worker = start_worker(manage, env, "--tasks", "one_at_a_time")
    poll(lambda: run_lines(log) != [], "the first job running")
    # concurrency 1, yet the one claim took the whole batch: 9 jobs kept, none started
    assert statuses(queue) == {"running": 10}
    worker.kill()  # SIGKILL
    worker = start_worker(manage, env, "--tasks", "one_at_a_time")
    poll(lambda: statuses(queue) == {"done": 10}, "every job done after the lease", timeout_s=60)
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()
    runs = collections.Counter(int(line.split()[0]) for line in run_lines(log))
    assert runs == {0: 2, **dict.fromkeys(range(1, 10), 1)}  # the kept ones ran once, after the kill
    reclaimed = Job.objects.filter(queue=queue, payload__n__gte=1).values_list("reclaims", flat=True)
    assert set(reclaimed) == {1}  # back through the lease sweep


def test_two_workers_never_run_a_job_twice(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    env = worker_env(log)
    args = ("--tasks", "work", "--concurrency", "8")
    workers = [start_worker(manage, env, *args) for _ in range(2)]
    for worker in workers:
        worker.wait_for_output("onestep worker pid", timeout_s=120)
    DatabaseQueue("reliability-work").send_many([{"n": n, "sleep_s": 0.01} for n in range(JOBS)])
    poll(
        lambda: statuses("reliability-work") == {"done": JOBS},
        "every job done",
        timeout_s=180,
        state=lambda: statuses("reliability-work"),
    )
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(60) == 0, worker.output()
    lines = [line.split() for line in run_lines(log)]
    runs = collections.Counter(int(n) for n, _pid in lines)
    assert set(runs) == set(range(JOBS))
    assert [n for n, count in runs.items() if count != 1] == []
    assert {int(pid) for _n, pid in lines} == {worker.pid for worker in workers}  # both took part
    assert set(Job.objects.filter(queue="reliability-work").values_list("attempts", flat=True)) == {1}


def test_always_failing_job_runs_max_attempts_times_and_dead_letters_once(
    manage: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    job_id = DatabaseQueue("reliability-fails").send({"n": 7})
    result = manage.run("onestep_worker", TARGET, "--tasks", "always_fails", "--once", env=worker_env(log))
    assert result.returncode == 0, result.stdout + result.stderr
    assert run_lines(log) == ["fails 7 attempt 0", "fails 7 attempt 1", "fails 7 attempt 2"]
    job = Job.objects.get(id=job_id)
    assert (job.status, job.attempts) == ("dead", 3)
    (dead,) = DeadLetter.objects.filter(task="always_fails")
    assert (dead.job_id, dead.payload, dead.exception_type) == (job_id, {"n": 7}, "RuntimeError")
    assert (dead.message, dead.app, dead.source) == ("always fails 7", "reliability", "reliability-fails")


def test_job_that_kills_its_worker_is_dead_lettered_after_max_deliveries(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    env = worker_env(log, ONESTEP_TEST_LEASE_S="1")
    job_id = DatabaseQueue("reliability-killer").send({"n": 1})
    deaths = 0
    deadline = time.monotonic() + 120
    while Job.objects.get(id=job_id).status != "dead":
        assert time.monotonic() < deadline, "the killer job was never dead-lettered"
        worker = start_worker(manage, env, "--tasks", "kills_worker")
        poll(
            lambda w=worker: w.popen.poll() is not None or Job.objects.get(id=job_id).status == "dead",  # type: ignore[misc]
            "the worker to die or the job to be dead-lettered",
        )
        if worker.popen.poll() is not None:
            assert worker.popen.returncode == -signal.SIGKILL, worker.output()
            deaths += 1
        else:
            worker.signal(signal.SIGTERM)
            assert worker.wait(60) == 0, worker.output()
    # max_deliveries=2: it ran (and killed its worker) twice, then never again
    assert deaths == 2
    assert run_lines(log) == ["killer 1", "killer 1"]
    job = Job.objects.get(id=job_id)
    assert (job.status, job.reclaims) == ("dead", 2)
    (dead,) = DeadLetter.objects.filter(task="kills_worker")
    assert dead.exception_type == "PoisonMessageError"
    assert "died 2 times" in dead.message


class Rollback(Exception):
    pass


def test_rolled_back_enqueue_never_runs_committed_runs_once(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    queue = DatabaseQueue("reliability-work")
    try:
        with transaction.atomic():
            queue.send({"n": 1})
            raise Rollback
    except Rollback:
        pass
    with transaction.atomic():
        job_id = queue.send({"n": 2})
    for _ in range(2):  # a second worker run finds nothing more to do
        result = manage.run("onestep_worker", TARGET, "--tasks", "work", "--once", env=worker_env(log))
        assert result.returncode == 0, result.stdout + result.stderr
    assert [line.split()[0] for line in run_lines(log)] == ["2"]
    assert list(Job.objects.filter(queue="reliability-work").values_list("id", "status")) == [
        (job_id, "done")
    ]


def test_sigterm_finishes_in_flight_jobs_releases_the_rest_and_exits_0(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    ids = DatabaseQueue("reliability-work").send_many([{"n": n, "sleep_s": 3.0} for n in range(10)])
    worker = start_worker(manage, worker_env(log), "--tasks", "work", "--concurrency", "4")
    poll(lambda: len(run_lines(log)) >= 4, "four jobs in flight")
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()
    started = sorted(int(line.split()[0]) for line in run_lines(log))
    assert len(started) == 4
    rows = {row["id"]: row for row in Job.objects.filter(id__in=ids).values()}
    finished = sorted(row["payload"]["n"] for row in rows.values() if row["status"] == "done")
    assert finished == started  # every job in flight ran to the end and was acked
    rest = [row for row in rows.values() if row["status"] != "done"]
    assert [(r["status"], r["attempts"], r["lease_owner"]) for r in rest] == [("queued", 0, None)] * 6


def test_ctx_state_survives_a_worker_restart(manage: Any, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    queue = DatabaseQueue("reliability-counter")
    for batch in (3, 2):
        queue.send_many([{} for _ in range(batch)])
        result = manage.run("onestep_worker", TARGET, "--tasks", "counter", "--once", env=worker_env(log))
        assert result.returncode == 0, result.stdout + result.stderr
    assert run_lines(log) == [f"counter {n}" for n in range(1, 6)]
    assert StateEntry.objects.get(key="reliability:counter:total").value_json == "5"
