"""Schedules, the webhook listener and HttpSink inside a running OneStepApp."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from django_onestep import (
    BearerAuth,
    CronSource,
    HttpSink,
    IntervalSource,
    MaxAttempts,
    MemoryQueue,
    OneStepApp,
    WebhookSource,
)
from tests.core.http_helpers import base_url, http_server
from tests.core.schedule_helpers import FakeClock
from tests.core.webhook_helpers import request, send_raw


async def serve_until(
    app: OneStepApp, done: Callable[[], bool], step: Callable[[], Any] | None = None
) -> None:
    serving = asyncio.create_task(app.serve())
    try:
        for _ in range(1000):
            if done():
                break
            if serving.done():
                serving.result()
            if step is not None:
                result = step()
                if asyncio.iscoroutine(result):
                    await result
            await asyncio.sleep(0.02)
        else:
            pytest.fail("condition not reached")
    finally:
        app.request_shutdown()
        await asyncio.wait_for(serving, timeout=30)


async def test_failing_tick_is_retried_with_attempts_then_dead_lettered() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    source = IntervalSource.every(
        hours=1, immediate=True, timezone="UTC", clock=clock, poll_interval_s=0.01, payload={"n": 1}
    )
    dead = MemoryQueue("dead")
    app = OneStepApp("ticks")
    seen: list[tuple[int, str]] = []

    @app.task(source=source, retry=MaxAttempts(3, delay_s=60), dead_letter=dead)
    async def flaky(ctx, payload):
        seen.append((ctx.current.attempts, ctx.current.meta["scheduled_at"]))
        raise RuntimeError("still broken")

    def advance() -> None:
        if len(seen) in (1, 2) and source.inflight_count == 0:
            clock.advance(seconds=30)  # retries wait 60 s on the fake clock, not in a slot

    letters: list[Any] = []

    async def collect() -> None:
        advance()
        letters.extend(d.payload for d in await dead.fetch(10))

    await serve_until(app, lambda: bool(letters), collect)
    assert seen == [
        (0, "2026-01-05T12:00:00+00:00"),
        (1, "2026-01-05T12:00:00+00:00"),
        (2, "2026-01-05T12:00:00+00:00"),
    ]
    assert letters[0]["payload"] == {"n": 1}
    assert letters[0]["failure"]["message"] == "still broken"


async def test_skip_overlap_under_the_runner_never_runs_two_ticks_at_once() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    source = IntervalSource.every(
        minutes=1, timezone="UTC", clock=clock, overlap="skip", poll_interval_s=0.01
    )
    app = OneStepApp("skips")
    running = 0
    peak = 0
    stamps: list[str] = []
    release = asyncio.Event()

    @app.task(source=source, concurrency=4)
    async def slow(ctx, _):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        stamps.append(ctx.current.meta["scheduled_at"])
        await release.wait()
        running -= 1

    def step() -> None:
        minute = clock.current.minute
        if source.next_fire_at is None:
            return  # not opened yet: the first tick is one interval after opening
        if not stamps and minute == 0:
            clock.advance(minutes=1)  # 12:01 comes due and starts
        elif len(stamps) == 1 and minute < 5:
            clock.advance(minutes=1)  # 12:02 .. 12:05 come due while 12:01 runs: dropped
        elif len(stamps) == 1 and not release.is_set() and source.next_fire_at.minute == 6:
            release.set()  # only once the runner has seen (and dropped) 12:02 .. 12:05
        elif release.is_set() and running == 0 and minute == 5:
            clock.advance(minutes=1)  # the next tick after the run finished

    await serve_until(app, lambda: len(stamps) >= 2, step)
    assert peak == 1
    assert stamps == ["2026-01-05T12:01:00+00:00", "2026-01-05T12:06:00+00:00"]


async def test_webhook_to_http_sink_end_to_end() -> None:
    with http_server() as server:
        hook = WebhookSource(path="/in", port=0, auth=BearerAuth("k"))
        out = HttpSink("out", url=base_url(server) + "/status/202", headers={"X-Event": "{{ body.kind }}"})
        app = OneStepApp("relay")

        @app.task(source=hook, emit=out)
        async def relay(ctx, event):
            return {"kind": event["query"]["kind"], "data": event["body"]}

        sent: list[int] = []

        async def post_once() -> None:
            if not sent and hook.is_open:
                response = await send_raw(
                    hook.bound_port,
                    request(
                        "POST",
                        "/in?kind=order",
                        b'{"id": 3}',
                        {"Authorization": "Bearer k", "Content-Type": "application/json"},
                    ),
                )
                sent.append(response.status)

        await serve_until(app, lambda: bool(server.requests), post_once)
        assert sent == [202]
        (forwarded,) = server.requests
        assert forwarded.json() == {"kind": "order", "data": {"id": 3}}
        assert forwarded.headers["x-event"] == "order"


async def test_http_sink_5xx_is_retried_once_by_the_runtime_then_fails_the_delivery() -> None:
    with http_server() as server:
        queue = MemoryQueue("jobs")
        dead = MemoryQueue("dead")
        app = OneStepApp("sink-failures")

        @app.task(source=queue, emit=HttpSink("out", url=base_url(server) + "/status/503"), dead_letter=dead)
        async def forward(ctx, payload):
            return payload

        await queue.publish({"id": 1})
        letters: list[Any] = []

        async def collect() -> None:
            letters.extend(d.payload for d in await dead.fetch(10))

        await serve_until(app, lambda: bool(letters), collect)
        assert len(server.requests) == 2  # the send was retried once, as for every sink
        assert letters[0]["payload"] == {"id": 1}
        assert letters[0]["failure"]["exception_type"] == "ConnectorOperationError"
        assert "HTTP 503" in letters[0]["failure"]["message"]


async def test_manual_run_and_pause_resume_of_a_schedule() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    source = IntervalSource.every(
        minutes=1, timezone="UTC", clock=clock, overlap="queue", poll_interval_s=0.01
    )
    app = OneStepApp("manual")
    runs: list[tuple[Any, dict[str, Any]]] = []

    @app.task(source=source)
    async def tick(ctx, payload):
        runs.append((payload, dict(ctx.current.meta)))

    status = await app.run_task_once("tick", payload={"why": "admin"})
    assert status == {
        "operation": "run_task_once",
        "task_name": "tick",
        "requested": True,
        "completion": "complete",
        "attempted_count": 1,
        "manual_run": True,
    }
    assert runs[0][0] == {"why": "admin"} and runs[0][1]["manual_run"] is True
    runs.clear()
    phase = {"paused": False, "resumed": False}

    async def step() -> None:
        if source.next_fire_at is None:
            return
        if not phase["paused"]:
            app.request_task_pause("tick")
            await app.wait_for_task_pause("tick")
            phase["paused"] = True
            clock.advance(minutes=5)  # five ticks come due while paused
        elif not phase["resumed"]:
            app.request_task_resume("tick")
            await app.wait_for_task_resume("tick")
            phase["resumed"] = True
        elif not runs and clock.current.minute == 5:
            clock.advance(minutes=1)

    await serve_until(app, lambda: bool(runs), step)
    # the ticks missed while paused were dropped; the next one is a minute after resuming
    assert [meta["scheduled_at"] for _, meta in runs] == ["2026-01-05T12:06:00+00:00"]


@pytest.mark.parametrize(
    "schedule",
    [lambda: IntervalSource.every(hours=1), lambda: CronSource("0 3 * * *")],
    ids=["interval", "cron"],
)
async def test_until_idle_is_not_slowed_down_by_a_schedule_that_is_not_due(
    schedule: Callable[[], Any],
) -> None:
    # The schedule polls once a second; it used to hold the final idle check for that
    # long (about 1 s here), though a schedule that is not due has nothing to do.
    app = OneStepApp("idle-fast")
    queue = MemoryQueue("in", poll_interval_s=0.01)
    handled: list[int] = []

    @app.task(source=queue)
    async def work(ctx, item):
        handled.append(item)

    @app.task(source=schedule())
    async def tick(ctx, item):
        raise AssertionError("not due: must not run")

    await queue.publish(1)
    started = time.monotonic()
    await asyncio.wait_for(app.serve(until_idle=True), 10)
    elapsed_s = time.monotonic() - started
    assert handled == [1]
    assert elapsed_s < 0.3, f"serve(until_idle=True) took {elapsed_s:.2f} s"
