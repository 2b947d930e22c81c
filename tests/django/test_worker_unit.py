"""Worker building blocks without subprocesses: task selection, options, JSON logs, health."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from types import SimpleNamespace

import pytest

from django_onestep.worker.health import HealthServer
from django_onestep.worker.logs import JsonFormatter
from django_onestep.worker.options import WorkerOptions, WorkerSetupError, parse_names, select_tasks
from django_onestep.worker.supervisor import child_command


def _app():
    def spec(name, source):
        return SimpleNamespace(name=name, source=SimpleNamespace(name=source) if source else None)

    return SimpleNamespace(
        name="shop",
        tasks=[spec("a", "q1"), spec("b", "q2"), spec("c", "q1"), spec("manual", None)],
    )


def test_parse_names() -> None:
    assert parse_names(["a,b", " c ", "d,,"]) == ["a", "b", "c", "d"]
    assert parse_names(None) == []


@pytest.mark.parametrize(
    ("options", "selected"),
    [
        (WorkerOptions(), ["a", "b", "c"]),  # source-less tasks never run in a worker
        (WorkerOptions(tasks=["c", "a"]), ["a", "c"]),
        (WorkerOptions(exclude_tasks=["b"]), ["a", "c"]),
        (WorkerOptions(queues=["q1"]), ["a", "c"]),
        (WorkerOptions(queues=["q1"], exclude_tasks=["a"]), ["c"]),
    ],
)
def test_select_tasks(options: WorkerOptions, selected: list[str]) -> None:
    assert select_tasks(_app(), options) == selected


def test_select_tasks_rejects_unknown_names() -> None:
    with pytest.raises(
        WorkerSetupError, match=r"--exclude-tasks: unknown task 'x' in app 'shop' \(tasks: a, b, c, manual\)"
    ):
        select_tasks(_app(), WorkerOptions(exclude_tasks=["x"]))
    with pytest.raises(
        WorkerSetupError, match=r"--queues: no task reads from 'q9' in app 'shop' \(sources: q1, q2\)"
    ):
        select_tasks(_app(), WorkerOptions(queues=["q9"]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (WorkerOptions(processes=0), "--processes must be >= 1, got 0"),
        (WorkerOptions(max_tasks=0), "--max-tasks must be >= 1, got 0"),
        (WorkerOptions(shutdown_timeout_s=0), "--shutdown-timeout must be > 0, got 0"),
        (WorkerOptions(healthcheck_port=70000), "--healthcheck-port must be 0-65535, got 70000"),
    ],
)
def test_option_validation(options: WorkerOptions, message: str) -> None:
    with pytest.raises(WorkerSetupError) as info:
        options.validate()
    assert str(info.value) == message


def test_json_formatter_keeps_extras() -> None:
    record = logging.LogRecord("onestep.events", logging.ERROR, __file__, 1, "task %s", ("failed",), None)
    record.event_kind = "failed"
    record.task_name = "send"
    document = json.loads(JsonFormatter().format(record))
    assert document["message"] == "task failed"
    assert document["level"] == "ERROR"
    assert document["logger"] == "onestep.events"
    assert (document["event_kind"], document["task_name"]) == ("failed", "send")
    assert document["time"].endswith("+00:00")


def test_child_command_repeats_the_options_with_one_process() -> None:
    options = WorkerOptions(
        target="shop.tasks:app",
        tasks=["a", "b"],
        concurrency=8,
        processes=3,
        healthcheck_port=9000,
        once=True,
        max_tasks=100,
        log_level="DEBUG",
    )
    args = child_command(options, 2)
    assert args[1:] == [
        "-m", "django", "onestep_worker", "shop.tasks:app", "--tasks", "a,b", "--concurrency", "8",
        "--healthcheck-port", "9003", "--healthcheck-host", "127.0.0.1", "--once", "--max-tasks",
        "100", "--skip-local-sources", "--log-level", "DEBUG", "--processes", "1", "--pool-child",
    ]  # fmt: skip
    # only the first child runs schedules and webhook listeners
    assert "--skip-local-sources" not in child_command(options, 0)
    assert "--skip-local-sources" in child_command(options, 1)


def test_skip_local_sources_leaves_out_schedules_and_webhook_listeners() -> None:
    from django_onestep import CronSource, IntervalSource, MemoryQueue, OneStepApp, WebhookSource

    app = OneStepApp("mixed")
    for name, source in [
        ("tick", IntervalSource.every(minutes=5)),
        ("nightly", CronSource("0 3 * * *", timezone="UTC")),
        ("hook", WebhookSource(path="/hook", port=0)),
        ("queue", MemoryQueue("jobs")),
    ]:
        app.task(name=name, source=source)(lambda ctx, payload: None)
    assert select_tasks(app, WorkerOptions()) == ["tick", "nightly", "hook", "queue"]
    assert select_tasks(app, WorkerOptions(skip_local_sources=True)) == ["queue"]


@pytest.mark.django_db
def test_a_process_left_with_only_local_sources_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_onestep import IntervalSource, OneStepApp
    from django_onestep.worker import target
    from django_onestep.worker.process import Worker

    app = OneStepApp("only-schedules")
    app.task(name="tick", source=IntervalSource.every(minutes=5))(lambda ctx, payload: None)
    monkeypatch.setattr(target, "load_target", lambda name: app)
    with pytest.raises(
        WorkerSetupError, match=r"without its schedules and webhook listeners.*run fewer processes"
    ):
        Worker(WorkerOptions(target="x:app", skip_local_sources=True)).prepare()
    assert Worker(WorkerOptions(target="x:app")).prepare() is app


async def test_health_server_answers_ok_then_503_when_stopping() -> None:
    worker = SimpleNamespace(
        app=SimpleNamespace(name="shop", runtime_status=lambda: {"inflight": 0}),
        task_names=["a"],
        stopping=False,
    )
    server = HealthServer(worker, 0, host="127.0.0.1")
    await server.start()

    async def get(path: str) -> tuple[str, dict]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        raw = await reader.read()
        writer.close()
        head, _, body = raw.decode().partition("\r\n\r\n")
        return head.splitlines()[0], json.loads(body)

    try:
        status, body = await get("/")
        assert status == "HTTP/1.1 200 OK"
        assert (body["status"], body["app"], body["tasks"], body["runtime"]) == (
            "ok",
            "shop",
            ["a"],
            {"inflight": 0},
        )
        worker.stopping = True
        status, body = await get("/")
        assert status == "HTTP/1.1 503 Service Unavailable"
        assert body["status"] == "stopping"
        status, _ = await get("/nope")
        assert status == "HTTP/1.1 404 Not Found"
    finally:
        await server.stop()


@pytest.mark.django_db
def test_prepare_refuses_a_state_store_path_that_does_not_import() -> None:
    from django.test import override_settings

    from django_onestep.worker.process import Worker

    # before this check, the worker started and died with a ModuleNotFoundError traceback
    with (
        override_settings(ONESTEP={"STATE": "testproject.nowhere.Store"}),
        pytest.raises(WorkerSetupError) as info,
    ):
        Worker(WorkerOptions(once=True)).prepare()
    assert str(info.value).startswith(
        "ONESTEP[\"STATE\"]: cannot import 'testproject.nowhere.Store': No module named 'testproject.nowhere'"
    )


@pytest.mark.django_db(transaction=True)
def test_a_signal_during_startup_stops_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # SIGTERM in the milliseconds between installing the handlers and serve() binding its
    # lifecycle used to be forgotten (bind resets the stop flag): the worker then served
    # forever. Seen in test_healthcheck_port on a loaded machine.
    from django_onestep.worker import telemetry_setup as worker_telemetry
    from django_onestep.worker.process import Worker

    worker = Worker(WorkerOptions(tasks=["record"]))
    worker.prepare()
    real_start = worker_telemetry.WorkerTelemetry.start

    async def start_then_signal(self: object) -> None:
        await real_start(self)  # type: ignore[arg-type]
        worker._on_signal(signal.SIGTERM)  # arrives while still starting up

    monkeypatch.setattr(worker_telemetry.WorkerTelemetry, "start", start_then_signal)
    asyncio.run(asyncio.wait_for(worker._serve(), 30))  # TimeoutError before the fix
    assert worker.stopping


class _ExitedChild:
    def __init__(self, code: int) -> None:
        self.code = code
        self.pid = 4242

    def poll(self) -> int:
        return self.code


@pytest.mark.parametrize(
    ("child_code", "exit_code"),
    [
        (-signal.SIGTERM, 0),  # the forwarded SIGTERM reached a child still importing Django
        (-signal.SIGINT, 0),
        (0, 0),
        (-signal.SIGKILL, 1),  # killed by something else: a real failure
        (1, 1),
    ],
)
def test_supervisor_exit_code_after_a_graceful_stop(child_code: int, exit_code: int) -> None:
    from django_onestep.worker.supervisor import Supervisor

    supervisor = Supervisor(WorkerOptions(processes=1))
    supervisor.children = {0: _ExitedChild(child_code)}  # type: ignore[dict-item]
    supervisor.signals_seen = 1  # SIGTERM received and forwarded
    supervisor._loop(env={})
    assert supervisor._exit_code() == exit_code
