"""The control-plane reporter's whole contract, against a scriptable local control plane.

onestep's README: startup sends a heartbeat and a topology sync; the sync is retried on
later heartbeats until accepted; task events are aggregated into task window metrics;
important events (retried, failed, dead_lettered, cancelled) are batched; reporter
failures are logged and never stop task execution.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from django_onestep import ControlPlaneReporter, ControlPlaneReporterConfig, MemoryQueue, NoRetry, OneStepApp

FAST = {"heartbeat_interval_s": 0.05, "metrics_interval_s": 0.05, "event_flush_interval_s": 0.05}


class ControlPlane:
    """Records every post; ``answers[endpoint]`` is a list of statuses, the last repeating."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.answers: dict[str, list[int]] = {}
        self.hang = threading.Event()  # while set, answers wait (a stalled control plane)
        self.release = threading.Event()
        plane = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint = self.path.rsplit("/", 1)[-1]
                plane.posts.append((endpoint, body))
                if plane.hang.is_set():
                    plane.release.wait(10)
                script = plane.answers.get(endpoint, [202])
                status = script.pop(0) if len(script) > 1 else script[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self, endpoint: str) -> list[dict[str, Any]]:
        return [body for name, body in list(self.posts) if name == endpoint]


@contextmanager
def control_plane() -> Iterator[ControlPlane]:
    plane = ControlPlane()
    thread = threading.Thread(target=plane.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield plane
    finally:
        plane.release.set()
        plane.server.shutdown()
        plane.server.server_close()


def reporter_for(plane: ControlPlane, app: OneStepApp, **options: Any) -> ControlPlaneReporter:
    config = ControlPlaneReporterConfig(
        base_url=plane.url, token="tok", app_name=app.name, **{**FAST, **options}
    )
    return ControlPlaneReporter(config).attach(app)


async def serve_until(app: OneStepApp, condition: Any, timeout_s: float = 20.0) -> None:
    async def stopper() -> None:
        for _ in range(int(timeout_s / 0.02)):
            if condition():
                break
            await asyncio.sleep(0.02)
        app.request_shutdown()

    stop = asyncio.create_task(stopper())
    await asyncio.wait_for(app.serve(), timeout_s + 10)
    await stop


async def test_startup_heartbeat_then_sync_retried_until_accepted_and_not_after() -> None:
    with control_plane() as plane:
        plane.answers["sync"] = [503, 500, 202]
        app = OneStepApp("topology")
        reporter_for(plane, app)

        @app.task(source=MemoryQueue("jobs"))
        async def work(ctx: Any, payload: Any) -> None:
            return None

        await serve_until(app, lambda: len(plane.bodies("heartbeat")) >= 8)
    names = [name for name, _ in plane.posts]
    assert names[:2] == ["heartbeat", "sync"]  # at startup
    syncs = plane.bodies("sync")
    assert len(syncs) == 3  # two refusals, then accepted once and never re-sent
    assert len({body["topology_hash"] for body in syncs}) == 1
    assert [task["name"] for task in syncs[-1]["topology"]["tasks"]] == ["work"]
    assert names.index("sync", names.index("sync") + 1) > names.index(
        "heartbeat", 1
    )  # retried on a heartbeat


async def test_heartbeats_repeat_with_identity_and_uptime() -> None:
    with control_plane() as plane:
        app = OneStepApp("beats")
        reporter_for(plane, app, instance_id="i-7", environment="prod", deployment_version="1.2.3")

        @app.task(source=MemoryQueue("jobs"))
        async def idle(ctx: Any, payload: Any) -> None:
            return None

        await serve_until(app, lambda: len(plane.bodies("heartbeat")) >= 4)
    beats = plane.bodies("heartbeat")
    assert len(beats) >= 4
    assert {(b["instance_id"], b["environment"], b["deployment_version"], b["status"]) for b in beats} == {
        ("i-7", "prod", "1.2.3", "running")
    }
    uptimes = [b["uptime_s"] for b in beats]
    assert uptimes == sorted(uptimes) and uptimes[-1] > uptimes[0]


async def test_task_events_are_aggregated_into_window_metrics() -> None:
    with control_plane() as plane:
        app = OneStepApp("windows")
        queue = MemoryQueue("jobs")
        reporter_for(plane, app, metrics_interval_s=0.2)

        @app.task(source=queue, concurrency=4)
        async def work(ctx: Any, payload: Any) -> None:
            await asyncio.sleep(0.01)

        for n in range(30):
            await queue.publish(n)

        def reported() -> int:
            return sum(w["tasks"].get("work", {}).get("succeeded", 0) for w in plane.bodies("metrics"))

        await serve_until(app, lambda: reported() >= 30)
    windows = plane.bodies("metrics")
    assert reported() == 30
    assert len(windows) < 30  # aggregated per window, not one post per event
    for window in windows:
        assert window["window_start"] < window["window_end"]
        counts = window["tasks"]["work"]
        if counts.get("succeeded"):
            assert 0 < counts["duration_s_max"] <= counts["duration_s_sum"]


async def test_a_refused_metrics_window_is_reported_with_the_next_one() -> None:
    with control_plane() as plane:
        plane.answers["metrics"] = [500, 202]
        app = OneStepApp("windows-retry")
        queue = MemoryQueue("jobs")
        reporter_for(plane, app)

        @app.task(source=queue)
        async def work(ctx: Any, payload: Any) -> None:
            return None

        for n in range(5):
            await queue.publish(n)

        def accepted() -> int:
            return sum(w["tasks"].get("work", {}).get("succeeded", 0) for w in plane.bodies("metrics")[1:])

        await serve_until(app, lambda: accepted() >= 5)
    assert accepted() == 5  # the refused first window was not lost


async def test_important_events_are_batched_and_kept_until_accepted() -> None:
    with control_plane() as plane:
        plane.answers["events"] = [503, 202]
        app = OneStepApp("events")
        queue = MemoryQueue("jobs")
        reporter_for(plane, app, event_batch_size=3, event_flush_interval_s=0.3)

        @app.task(source=queue, retry=NoRetry(), concurrency=7)
        async def fail(ctx: Any, payload: Any) -> None:
            raise ValueError(f"bad {payload}")

        for n in range(7):
            await queue.publish(n)

        def delivered() -> list[dict[str, Any]]:
            return [e for body in plane.bodies("events")[1:] for e in body["events"]]

        await serve_until(app, lambda: len(delivered()) >= 7)
    batches = plane.bodies("events")
    assert all(len(body["events"]) <= 3 for body in batches)
    assert batches[0]["events"] == batches[1]["events"]  # the refused batch was sent again
    events = delivered()
    assert sorted(e["failure"]["message"] for e in events) == [f"bad {n}" for n in range(7)]
    assert {e["kind"] for e in events} == {"failed"}  # fetched/started/succeeded are not events


async def test_a_stalled_control_plane_does_not_hold_up_the_tasks() -> None:
    with control_plane() as plane:
        plane.hang.set()
        app = OneStepApp("stalled")
        queue = MemoryQueue("jobs")
        reporter_for(plane, app, timeout_s=30)
        done: list[int] = []
        all_done = asyncio.Event()

        @app.task(source=queue)
        async def work(ctx: Any, payload: Any) -> None:
            done.append(payload)
            if len(done) == 5:
                all_done.set()

        for n in range(5):
            await queue.publish(n)
        loop = asyncio.get_running_loop()
        started = loop.time()
        serving = asyncio.create_task(app.serve())
        await asyncio.wait_for(all_done.wait(), 5)
        assert done == [0, 1, 2, 3, 4]
        assert loop.time() - started < 3  # well before the 30 s reporter timeout
        plane.release.set()
        app.request_shutdown()
        await asyncio.wait_for(serving, 60)


async def test_a_reporter_that_raises_keeps_reporting_and_never_stops_tasks(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with control_plane() as plane:
        app = OneStepApp("broken-reporter")
        queue = MemoryQueue("jobs")
        reporter = reporter_for(plane, app)
        failures = {"left": 3}

        def topology() -> dict[str, Any]:
            if failures["left"]:
                failures["left"] -= 1
                raise RuntimeError("topology broke")
            return {"app": "broken-reporter", "tasks": []}

        monkeypatch.setattr(reporter, "topology", topology)
        done: list[int] = []

        @app.task(source=queue)
        async def work(ctx: Any, payload: Any) -> None:
            done.append(payload)

        await queue.publish(1)
        await serve_until(app, lambda: done and len(plane.bodies("sync")) >= 1)
    assert done == [1]
    assert plane.bodies("sync")  # the loop survived three failures and synced
    assert any("topology broke" in r.getMessage() for r in caplog.records if r.name == "onestep.reporter")


def test_events_buffered_while_the_control_plane_is_down_are_capped() -> None:
    from datetime import UTC, datetime

    from django_onestep.core.events import TaskEvent, TaskEventKind

    config = ControlPlaneReporterConfig(
        base_url="http://127.0.0.1:9", token="t", app_name="a", event_batch_size=2
    )
    reporter = ControlPlaneReporter(config)
    for n in range(25):
        reporter.record(
            TaskEvent(
                kind=TaskEventKind.RETRIED,
                app="a",
                task="t",
                source="s",
                attempts=n,
                emitted_at=datetime.now(UTC),
            )
        )
    assert len(reporter._events) == 20  # 10 batches of 2
    assert reporter._events[0]["attempts"] == 5  # the oldest were dropped
    assert reporter.dropped_events == 5
