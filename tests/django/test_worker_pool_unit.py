"""The pool's building blocks without subprocesses: per-child limits, crash loops,
readiness checks, and the worker's and the supervisor's probes.

The real pool (``manage.py onestep_worker --processes N``) is in
tests/acceptance/test_worker_pool.py.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import pytest

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.processes.resident_memory import resident_memory_kib
from django_onestep.worker import readiness
from django_onestep.worker.crash_loop import CrashLoopDetector
from django_onestep.worker.health import HealthServer
from django_onestep.worker.options import WorkerOptions
from django_onestep.worker.pool_health import PoolHealthServer
from django_onestep.worker.recycling import ChildRecycler
from django_onestep.worker.supervisor import child_command


def _settled(kind: str = "succeeded") -> Any:
    return SimpleNamespace(kind=kind)


def test_max_tasks_per_child_stops_once_after_n_settled_deliveries() -> None:
    stops: list[int] = []
    recycler = ChildRecycler(lambda: stops.append(1), max_tasks=3, max_memory_kib=None)
    recycler.on_event(_settled("started"))  # not a settlement
    for kind in ("succeeded", "failed", "retried", "succeeded"):
        recycler.on_event(_settled(kind))
    assert stops == [1]
    assert recycler.reason == "--max-tasks-per-child 3 reached"


def test_max_memory_per_child_stops_above_the_limit() -> None:
    used = [1000]
    stops: list[int] = []
    recycler = ChildRecycler(
        lambda: stops.append(1), max_tasks=None, max_memory_kib=2000, memory_kib=lambda: used[0]
    )
    recycler.on_event(_settled())
    assert stops == []
    used[0] = 2500
    recycler._memory_checked_at = 0.0  # past the check interval
    recycler.on_event(_settled())
    assert stops == [1]
    assert recycler.reason == "resident memory 2500 KiB is above --max-memory-per-child 2000"


def test_resident_memory_is_plausible() -> None:
    assert 5_000 < resident_memory_kib() < 10_000_000


def test_crash_loop_needs_enough_crashes_within_the_window() -> None:
    detector = CrashLoopDetector(3, window_s=60)
    assert detector.max_crashes == 5
    assert not any(detector.record_crash(now) for now in (0, 10, 20, 30))
    assert not detector.record_crash(100)  # the first four fell out of the window
    assert not any(detector.record_crash(now) for now in (101, 102, 103))
    assert detector.record_crash(104)
    assert CrashLoopDetector(12).max_crashes == 12


def test_per_child_options_reach_the_children_and_put_one_process_under_supervision() -> None:
    options = WorkerOptions(max_tasks_per_child=5, max_memory_per_child_kib=200_000)
    assert options.supervised
    args = child_command(options, 0)
    assert args[-9:] == [
        "--max-tasks-per-child", "5", "--max-memory-per-child", "200000",
        "--log-level", "INFO", "--processes", "1", "--pool-child",
    ]  # fmt: skip
    assert not WorkerOptions(max_tasks_per_child=5, pool_child=True).supervised
    assert not WorkerOptions().supervised
    assert WorkerOptions(processes=2).supervised


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (WorkerOptions(max_tasks_per_child=0), "--max-tasks-per-child must be >= 1, got 0"),
        (WorkerOptions(max_memory_per_child_kib=-1), "--max-memory-per-child must be >= 1, got -1"),
    ],
)
def test_per_child_limits_are_validated(options: WorkerOptions, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        options.validate()


def test_port_zero_means_no_health_port() -> None:
    assert not WorkerOptions(healthcheck_port=0).health_enabled
    assert "--healthcheck-port" not in child_command(WorkerOptions(processes=2, healthcheck_port=0), 1)


def _fake_worker(**task: Any) -> Any:
    status = {
        "serving": True,
        "tasks": {"a": {"fetch_failures": 0, **task}},
    }
    app = SimpleNamespace(name="shop", runtime_status=lambda: status, tasks=[])
    return SimpleNamespace(app=app, task_names=["a"], stopping=False)


async def _get(port: int, path: str) -> tuple[str, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    raw = await reader.read()
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return head.splitlines()[0], json.loads(body)


@pytest.mark.django_db(transaction=True)
async def test_readyz_reports_database_brokers_sources_and_registered_checks() -> None:
    worker = _fake_worker()
    source = SimpleNamespace(readiness=lambda: {"ok": True, "quarantined": []})
    worker.app.tasks = [SimpleNamespace(name="a", source=source)]
    server = HealthServer(worker, 0)
    await server.start()
    try:
        status, body = await _get(server.port, "/readyz")
        assert status == "HTTP/1.1 200 OK", body
        assert set(body["checks"]) == {"serving", "database", "brokers", "sources"}
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["sources"]["detail"] == {"a": {"ok": True, "quarantined": []}}

        worker.app.runtime_status()["tasks"]["a"]["fetch_failures"] = 3
        source.readiness = lambda: {"ok": False, "quarantined": [7]}
        readiness.register_readiness_check("partitions", lambda w: (False, {"quarantined": [7]}))
        try:
            status, body = await _get(server.port, "/readyz")
        finally:
            readiness.unregister_readiness_check("partitions")
        assert status == "HTTP/1.1 503 Service Unavailable"
        assert body["status"] == "not_ready"
        failing = {name for name, check in body["checks"].items() if not check["ok"]}
        assert failing == {"brokers", "sources", "partitions"}
        assert body["checks"]["brokers"]["detail"] == {"failing_fetches": {"a": 3}}

        worker.stopping = True  # draining: not ready, but alive
        status, body = await _get(server.port, "/healthz")
        assert (status, body["status"]) == ("HTTP/1.1 200 OK", "alive")
    finally:
        await server.stop()


async def test_a_raising_check_is_not_ready_with_its_error() -> None:
    def broken(worker: Any) -> tuple[bool, Any]:
        raise RuntimeError("no route to broker")

    readiness.register_readiness_check("broken", broken)
    try:
        _, checks = await readiness.evaluate(_fake_worker())
    finally:
        readiness.unregister_readiness_check("broken")
    assert checks["broken"] == {"ok": False, "detail": {"error": "RuntimeError: no route to broker"}}


def test_health_binds_loopback_by_default() -> None:
    assert HealthServer(_fake_worker(), 0).host == "127.0.0.1"
    assert WorkerOptions().healthcheck_host == "127.0.0.1"


def _http(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_pool_readyz_needs_every_child_alive_and_ready() -> None:
    pool: dict[str, Any] = {"size": 2, "alive": 2, "pids": [1, 2], "stopping": False}
    pool.update(crash_loop=False, recent_crashes=0, child_ports=[])
    server = PoolHealthServer(lambda: dict(pool), 0, "127.0.0.1")
    server.start()
    try:
        assert _http(server.port, "/healthz") == (
            200,
            {"status": "alive", "loop_age_s": pytest.approx(0, abs=5)},
        )
        code, body = _http(server.port, "/readyz")
        assert (code, body["status"]) == (200, "ready")

        pool["alive"] = 1
        pool["crash_loop"] = True
        code, body = _http(server.port, "/readyz")
        assert code == 503
        assert body["problems"] == ["crash loop", "1 of 2 worker processes alive"]

        pool.update(alive=2, crash_loop=False, child_ports=[_unused_port()])  # a child not answering
        code, body = _http(server.port, "/readyz")
        assert code == 503
        assert body["problems"] == [f"worker process on port {pool['child_ports'][0]} not ready"]
        assert _http(server.port, "/nope")[0] == 404
    finally:
        server.stop()


def _unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_child_that_ran_stably_restarts_without_its_old_backoff() -> None:
    import time

    from django_onestep.worker.supervisor import Supervisor

    supervisor = Supervisor(WorkerOptions(processes=2))
    now = time.monotonic()
    for index, ran_s in ((0, 3600.0), (1, 5.0)):
        supervisor.started_at[index] = now - ran_s
        supervisor.backoff_s[index] = 16.0  # left by earlier crashes
        supervisor._child_exited(index, 4242, 1)
    assert supervisor.restart_at[0] - now < 1  # a fresh 0.5 s backoff
    assert supervisor.restart_at[1] - now >= 16  # still crashing soon after starting
    assert supervisor.backoff_s == {0: 1.0, 1: 30.0}
