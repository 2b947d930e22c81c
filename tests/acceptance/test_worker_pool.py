"""The supervised pool with real ``manage.py onestep_worker --processes N`` processes: a
child killed mid-job, children recycled by ``--max-tasks-per-child``, a crash loop, and
the pool's probes.

The pool does not depend on the database beyond sharing the queue, so these run on the
MariaDB leg only (SQLite refuses several processes; PostgreSQL would repeat them).
"""

from __future__ import annotations

import json
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import poll

TARGET = "tests.acceptance.pool_app:app"


@pytest.fixture(autouse=True)
def _mariadb_only(transactional_db: None) -> None:
    from django.db import connection

    if connection.vendor != "mysql":
        pytest.skip("the pool tests run on the MariaDB leg (several processes, one database)")


def _free_port_block(size: int) -> int:
    """A port P with P..P+size-1 free at the time of asking."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = int(sock.getsockname()[1])
        if base + size > 65535:
            continue
        try:
            for port in range(base, base + size):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free block of ports")


def _get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError as exc:
        return 0, {"error": str(exc)}


def _runs(log: Path) -> list[tuple[str, int, int, float, float]]:
    if not log.exists():
        return []
    rows = []
    for line in log.read_text().splitlines():
        name, pid, attempt, start, end = line.split()
        rows.append((name, int(pid), int(attempt), float(start), float(end)))
    return rows


def _enqueue(*payloads: dict[str, Any]) -> None:
    from tests.acceptance.pool_app import pool_queue

    for payload in payloads:
        pool_queue.send(payload)


def test_a_child_killed_mid_job_is_replaced_and_its_job_succeeds_on_attempt_2(manage, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    port = _free_port_block(4)
    _enqueue({"name": "killer", "kill_on_attempt": 1})
    pool = manage.start(
        "onestep_worker", TARGET, "--tasks", "work", "--processes", "3", "--healthcheck-port", str(port),
        env={"ONESTEP_TEST_RUN_LOG": str(log)},
    )  # fmt: skip
    # the job comes back after its 2 s lease and a fresh child runs it
    poll(lambda: any(run[0] == "killer" for run in _runs(log)), "the killed job's second attempt", 60)
    [(_, pid, attempt, _, _)] = _runs(log)
    assert attempt == 2
    assert "exited -9: restarting" in pool.output()

    def pool_ready() -> bool:
        code, body = _get(port, "/readyz")
        return code == 200 and body["checks"]["pool"]["alive"] == 3

    poll(pool_ready, "the pool back at 3 ready children", 60)
    _, body = _get(port, "/readyz")
    assert pid in body["checks"]["pool"]["pids"]  # the child that ran attempt 2 lives on
    assert len(body["checks"]["processes"]) == 3
    assert all(child["status"] == "ready" for child in body["checks"]["processes"].values())
    assert _get(port, "/healthz")[0] == 200

    _enqueue(*({"name": f"next{i}"} for i in range(10)))
    poll(lambda: len(_runs(log)) == 11, "the next 10 jobs", 60)
    assert sorted(run[0] for run in _runs(log)[1:]) == sorted(f"next{i}" for i in range(10))
    pool.signal(signal.SIGTERM)
    assert pool.wait(60) == 0, pool.output()


def test_max_tasks_per_child_recycles_children_without_exceeding_the_pool(manage, tmp_path: Path) -> None:
    from django_onestep.models import Job

    log = tmp_path / "runs.log"
    _enqueue(*({"name": f"j{i}", "sleep_s": 0.2} for i in range(30)))
    pool = manage.start(
        "onestep_worker", TARGET, "--tasks", "work", "--processes", "3", "--max-tasks-per-child", "5",
        env={"ONESTEP_TEST_RUN_LOG": str(log)},
    )  # fmt: skip
    most_claimed = 0

    def all_done() -> bool:
        nonlocal most_claimed
        # capacity-gated fetch: a child with one free slot claims one job, never more
        most_claimed = max(most_claimed, Job.objects.filter(queue="pool-work", status="running").count())
        return len(_runs(log)) >= 30

    poll(all_done, "30 jobs", 90)
    pool.signal(signal.SIGTERM)
    assert pool.wait(60) == 0, pool.output()
    runs = _runs(log)
    assert sorted(run[0] for run in runs) == sorted(f"j{i}" for i in range(30))
    spans: dict[int, list[float]] = {}
    for _, pid, _, start, end in runs:
        span = spans.setdefault(pid, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    assert all(sum(1 for _, pid, *_ in runs if pid == p) <= 5 for p in spans)
    assert len(spans) >= 6
    # at any moment at most 3 children were working
    edges = sorted([(s, 1) for s, _ in spans.values()] + [(e, -1) for _, e in spans.values()])
    concurrent = peak = 0
    for _, step in edges:
        concurrent += step
        peak = max(peak, concurrent)
    assert peak <= 3
    assert most_claimed <= 3
    assert pool.output().count("--max-tasks-per-child 5 reached") >= 6


def test_a_crash_loop_stops_the_pool_with_exit_1(manage, tmp_path: Path) -> None:
    from tests.acceptance.pool_app import poison_queue

    for i in range(8):
        poison_queue.send({"n": i})
    pool = manage.start("onestep_worker", TARGET, "--tasks", "poison", "--processes", "3")
    assert pool.wait(90) == 1, pool.output()
    output = pool.output()
    assert "crash loop: 5 worker process crashes within 60s" in output
    assert "stopping the pool instead of restarting" in output


def test_max_memory_per_child_recycles_even_a_single_process(manage, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    _enqueue(*({"name": f"m{i}"} for i in range(2)))
    # 1 KiB: every child is over it once its first delivery settles
    pool = manage.start(
        "onestep_worker", TARGET, "--tasks", "work", "--max-memory-per-child", "1",
        env={"ONESTEP_TEST_RUN_LOG": str(log)},
    )  # fmt: skip
    poll(lambda: len(_runs(log)) == 2, "2 jobs", 60)
    pool.signal(signal.SIGTERM)
    assert pool.wait(60) == 0, pool.output()
    assert len({pid for _, pid, *_ in _runs(log)}) == 2  # a fresh process for the second job
    assert "KiB is above --max-memory-per-child 1: this worker process stops" in pool.output()
