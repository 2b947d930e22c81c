"""ControlPlaneReporter against a local http.server; failures never reach the tasks."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from django_onestep import (
    ControlPlaneReporter,
    ControlPlaneReporterConfig,
    MaxAttempts,
    MemoryQueue,
    OneStepApp,
)
from tests.core.http_helpers import base_url, http_server


def test_config_from_env_reads_both_variable_spellings() -> None:
    config = ControlPlaneReporterConfig.from_env(
        app_name="billing",
        env={
            "ONESTEP_CONTROL_URL": "http://cp.local:8080",
            "ONESTEP_CONTROL_TOKEN": "tok",
            "ONESTEP_ENV": "prod",
            "ONESTEP_SERVICE_NAME": "billing-svc",
            "ONESTEP_NODE_NAME": "node-1",
            "ONESTEP_INSTANCE_ID": "i-1",
            "ONESTEP_CONTROL_PLANE_HEARTBEAT_INTERVAL_S": "7.5",
            "ONESTEP_CONTROL_PLANE_EVENT_BATCH_SIZE": "10",
        },
    )
    assert (config.base_url, config.token, config.environment) == ("http://cp.local:8080", "tok", "prod")
    assert (config.service_name, config.node_name, config.instance_id) == ("billing-svc", "node-1", "i-1")
    assert (config.heartbeat_interval_s, config.event_batch_size) == (7.5, 10)
    assert "tok" not in repr(config)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "control-plane reporter needs base_url: set ONESTEP_CONTROL_PLANE_URL"),
        ({"ONESTEP_CONTROL_PLANE_URL": "http://x"}, "needs token: set ONESTEP_CONTROL_PLANE_TOKEN"),
        (
            {
                "ONESTEP_CONTROL_PLANE_URL": "http://x",
                "ONESTEP_CONTROL_PLANE_TOKEN": "t",
                "ONESTEP_CONTROL_PLANE_TIMEOUT_S": "soon",
            },
            "ONESTEP_CONTROL_PLANE_TIMEOUT_S must be a number; got 'soon'",
        ),
        (
            {"ONESTEP_CONTROL_PLANE_URL": "cp:80", "ONESTEP_CONTROL_PLANE_TOKEN": "t"},
            "base_url must be an http(s) URL",
        ),
        (
            {
                "ONESTEP_CONTROL_PLANE_URL": "http://x",
                "ONESTEP_CONTROL_PLANE_TOKEN": "t",
                "ONESTEP_CONTROL_PLANE_EVENT_BATCH_SIZE": "0",
            },
            "event_batch_size: must be >= 1, got 0",
        ),
        (
            {
                "ONESTEP_CONTROL_PLANE_URL": "http://x",
                "ONESTEP_CONTROL_PLANE_TOKEN": "t",
                "ONESTEP_CONTROL_PLANE_HEARTBEAT_INTERVAL_S": "nan",
            },
            "heartbeat_interval_s: must be a finite number, got nan",
        ),
    ],
)
def test_config_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as info:
        ControlPlaneReporterConfig.from_env(app_name="a", env=env)
    assert message in str(info.value)


async def test_reports_heartbeat_sync_events_and_metrics() -> None:
    with http_server() as server:
        app = OneStepApp("billing")
        queue = MemoryQueue("jobs")
        config = ControlPlaneReporterConfig(
            base_url=base_url(server),
            token="tok",
            app_name="billing",
            instance_id="i-1",
            node_name="node-1",
            event_flush_interval_s=0.05,
            metrics_interval_s=0.05,
            heartbeat_interval_s=0.05,
        )
        ControlPlaneReporter(config).attach(app)
        calls: list[int] = []

        @app.task(source=queue, retry=MaxAttempts(2))
        async def flaky(ctx, payload):
            calls.append(payload)
            if len(calls) < 2:
                raise ValueError("first try fails")
            return None

        await queue.publish(1)

        async def stop_when_reported() -> None:
            for _ in range(400):
                paths = {r.path for r in server.requests}
                if {"/api/v1/agents/events", "/api/v1/agents/metrics"} <= paths:
                    break
                await asyncio.sleep(0.05)
            app.request_shutdown()

        stopper = asyncio.create_task(stop_when_reported())
        await asyncio.wait_for(app.serve(), timeout=60)
        await stopper
        by_path: dict[str, list] = {}
        for recorded in server.requests:
            by_path.setdefault(recorded.path, []).append(recorded)
        first = server.requests[0]
        assert first.path == "/api/v1/agents/heartbeat"
        assert first.headers["authorization"] == "Bearer tok"
        heartbeat = first.json()
        assert heartbeat["status"] == "running"
        assert (heartbeat["service_name"], heartbeat["instance_id"], heartbeat["node_name"]) == (
            "billing",
            "i-1",
            "node-1",
        )
        sync = by_path["/api/v1/agents/sync"][0].json()
        assert sync["topology"]["tasks"] == [
            {
                "name": "flaky",
                "source": {"name": "jobs", "type": "MemoryQueue"},
                "emit": [],
                "dead_letter": [],
                "concurrency": 1,
                "retry": "MaxAttempts(max_attempts=2, delay_s=None)",
                "timeout_s": None,
            }
        ]
        assert len(by_path["/api/v1/agents/sync"]) == 1  # accepted: not re-sent
        events = [e for r in by_path["/api/v1/agents/events"] for e in r.json()["events"]]
        assert [e["kind"] for e in events] == ["retried"]
        assert events[0]["failure"]["exception_type"] == "ValueError"
        assert events[0]["failure"]["message"] == "first try fails"
        windows = [r.json()["tasks"]["flaky"] for r in by_path["/api/v1/agents/metrics"]]
        assert sum(w.get("succeeded", 0) for w in windows) == 1
        assert sum(w.get("retried", 0) for w in windows) == 1


async def test_unreachable_control_plane_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = OneStepApp("offline")
    queue = MemoryQueue("jobs")
    reporter = ControlPlaneReporter(
        ControlPlaneReporterConfig(
            base_url=f"http://127.0.0.1:{port}", token="secret-token", app_name="offline"
        )
    ).attach(app)
    done: list[int] = []

    @app.task(source=queue)
    async def work(ctx, payload):
        done.append(payload)
        ctx.app.request_shutdown()

    await queue.publish(5)
    with caplog.at_level(logging.WARNING, logger="onestep.reporter"):
        await asyncio.wait_for(app.serve(), timeout=60)
    assert done == [5]
    assert await reporter.post("events", {"events": []}) is False
    messages = [r.getMessage() for r in caplog.records if r.name == "onestep.reporter"]
    assert messages and messages[0].startswith("control-plane heartbeat failed: URLError")
    assert all("secret-token" not in m for m in messages)
