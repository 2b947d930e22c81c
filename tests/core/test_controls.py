"""Operational controls and their exact status dicts (spec Appendix A)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from django_onestep import Envelope, MaxAttempts, MemoryQueue, OneStepApp
from django_onestep.core.base import Delivery, Sink, Source

from .conftest import EventLog, serve_idle, wait_until


def _app_with_dead_letters() -> tuple[OneStepApp, MemoryQueue, MemoryQueue]:
    app = OneStepApp("ctl")
    source, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=source, dead_letter=dead)
    async def work(ctx, item):
        if item.get("fail"):
            raise RuntimeError("bad")
        return None

    return app, source, dead


async def test_drain_status_lifecycle() -> None:
    app = OneStepApp("dr")
    queue = MemoryQueue("in")
    gate = asyncio.Event()

    @app.task(source=queue, concurrency=2)
    async def work(ctx, item):
        await gate.wait()

    assert app.drain_status() == {
        "operation": "drain",
        "requested": False,
        "completion": "in_progress",
        "drained": False,
        "accepting_new_work": True,
        "runner_count": 0,
        "parked_runner_count": 0,
        "fetching_runner_count": 0,
        "inflight_task_count": 0,
    }
    await queue.publish(1)
    serving = asyncio.create_task(app.serve())
    await wait_until(lambda: app.drain_status()["inflight_task_count"] == 1)
    status = app.request_drain()
    assert status["requested"] is True
    assert status["accepting_new_work"] is False
    assert status["drained"] is False
    assert status["inflight_task_count"] == 1
    await queue.publish(2)  # must not start: draining
    gate.set()
    drained = await asyncio.wait_for(app.wait_for_drain(), 10)
    assert drained == {
        "operation": "drain",
        "requested": True,
        "completion": "complete",
        "drained": True,
        "accepting_new_work": False,
        "runner_count": 1,
        "parked_runner_count": 1,
        "fetching_runner_count": 0,
        "inflight_task_count": 0,
    }
    assert queue.size() == 1
    app.request_shutdown()
    await asyncio.wait_for(serving, 10)


async def test_pause_and_resume_a_task() -> None:
    app = OneStepApp("pa")
    queue = MemoryQueue("in", poll_interval_s=0.02)
    other = MemoryQueue("other", poll_interval_s=0.02)
    seen: list[str] = []

    @app.task(source=queue)
    async def paused_task(ctx, item):
        seen.append(f"p{item}")

    @app.task(source=other)
    async def other_task(ctx, item):
        seen.append(f"o{item}")

    serving = asyncio.create_task(app.serve())
    await wait_until(lambda: app.runtime_status()["serving"])
    requested = app.request_task_pause("paused_task")
    assert requested["operation"] == "pause_task"
    assert requested["requested"] is True
    paused = await asyncio.wait_for(app.wait_for_task_pause("paused_task"), 10)
    assert paused == {
        "operation": "pause_task",
        "task_name": "paused_task",
        "requested": True,
        "completion": "complete",
        "paused": True,
        "accepting_new_work": False,
        "runner_count": 1,
        "parked_runner_count": 1,
        "fetching_runner_count": 0,
        "inflight_task_count": 0,
    }
    await queue.publish(1)
    await other.publish(1)
    await wait_until(lambda: "o1" in seen)
    await asyncio.sleep(0.1)
    assert seen == ["o1"]
    app.request_task_resume("paused_task")
    resumed = await asyncio.wait_for(app.wait_for_task_resume("paused_task"), 10)
    assert resumed == {
        "operation": "resume_task",
        "task_name": "paused_task",
        "requested": True,
        "completion": "complete",
        "paused": False,
        "accepting_new_work": True,
        "runner_count": 1,
        "parked_runner_count": 0,
        "fetching_runner_count": resumed["fetching_runner_count"],
        "inflight_task_count": resumed["inflight_task_count"],
    }
    await wait_until(lambda: "p1" in seen)
    app.request_shutdown()
    await asyncio.wait_for(serving, 10)


async def test_pause_during_a_drain_completes() -> None:
    app = OneStepApp("drp")
    queue = MemoryQueue("in")

    @app.task(source=queue)
    async def work(ctx, item): ...

    serving = asyncio.create_task(app.serve())
    await wait_until(lambda: app.drain_status()["runner_count"] == 1)
    app.request_drain()
    assert (await asyncio.wait_for(app.wait_for_drain(), 10))["drained"] is True
    app.request_task_pause("work")
    # the drained runner takes no work: the pause is complete, not waited for forever
    assert await asyncio.wait_for(app.wait_for_task_pause("work"), 10) == {
        "operation": "pause_task",
        "task_name": "work",
        "requested": True,
        "completion": "complete",
        "paused": True,
        "accepting_new_work": False,
        "runner_count": 1,
        "parked_runner_count": 1,
        "fetching_runner_count": 0,
        "inflight_task_count": 0,
    }
    app.request_shutdown()
    await asyncio.wait_for(serving, 10)


async def test_pause_request_from_another_thread() -> None:
    app = OneStepApp("pa")
    queue = MemoryQueue("in", poll_interval_s=5.0)

    @app.task(source=queue)
    async def work(ctx, item): ...

    serving = asyncio.create_task(app.serve())
    await wait_until(lambda: app.runtime_status()["tasks"]["work"]["fetching"])
    threading.Thread(target=app.request_task_pause, args=("work",)).start()
    status = await asyncio.wait_for(app.wait_for_task_pause("work"), 4)
    assert status["paused"] is True
    app.request_shutdown()
    await asyncio.wait_for(serving, 10)


def test_controls_reject_unknown_and_source_less_tasks() -> None:
    app = OneStepApp("ctl")

    @app.task()
    async def no_source(ctx, item): ...

    for call in (app.request_task_pause, app.request_task_resume, app.task_pause_status):
        with pytest.raises(ValueError, match=r"task 'ghost' was not found in app 'ctl'"):
            call("ghost")
        with pytest.raises(ValueError, match=r"task 'no_source' does not have a controllable source runner"):
            call("no_source")


async def test_async_controls_reject_unknown_tasks() -> None:
    app = OneStepApp("ctl")
    with pytest.raises(ValueError, match=r"task 'ghost' was not found"):
        await app.replay_task_dead_letters("ghost", limit=1)
    with pytest.raises(ValueError, match=r"task 'ghost' was not found"):
        await app.discard_task_dead_letters("ghost", limit=1)
    with pytest.raises(ValueError, match=r"task 'ghost' was not found"):
        await app.run_task_once("ghost", payload={})


async def test_replay_dead_letters_rebuilds_the_original_envelope() -> None:
    app, source, dead = _app_with_dead_letters()
    await source.publish({"fail": True, "n": 1}, meta={"trace": "a"})
    await source.publish({"fail": True, "n": 2})
    await serve_idle(app)
    assert dead.size() == 2
    status = await app.replay_task_dead_letters("work", limit=1)
    assert status == {
        "operation": "replay_dead_letters",
        "task_name": "work",
        "requested": True,
        "completion": "complete",
        "requested_limit": 1,
        "attempted_count": 1,
        "replayed_count": 1,
        "failed_count": 0,
        "empty": False,
    }
    [replayed] = source.drain_nowait()
    assert (replayed.body, replayed.meta, replayed.attempts) == ({"fail": True, "n": 1}, {"trace": "a"}, 0)
    assert dead.size() == 1


async def test_replay_keeps_original_attempts() -> None:
    app = OneStepApp("ctl")
    source, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=source, dead_letter=dead, retry=MaxAttempts(2))
    async def work(ctx, item):
        raise RuntimeError("x")

    await source.publish("x")
    await serve_idle(app)
    await app.replay_task_dead_letters("work", limit=10)
    [env] = source.drain_nowait()
    assert env.attempts == 1


async def test_replay_and_discard_on_empty_dead_letters() -> None:
    app, _, _ = _app_with_dead_letters()
    replay = await app.replay_task_dead_letters("work", limit=5)
    discard = await app.discard_task_dead_letters("work", limit=5)
    assert (replay["completion"], replay["empty"], replay["attempted_count"]) == ("complete", True, 0)
    assert discard == {
        "operation": "discard_dead_letters",
        "task_name": "work",
        "requested": True,
        "completion": "complete",
        "requested_limit": 5,
        "attempted_count": 0,
        "discarded_count": 0,
        "failed_count": 0,
        "empty": True,
    }


async def test_discard_dead_letters() -> None:
    app, source, dead = _app_with_dead_letters()
    for n in range(3):
        await source.publish({"fail": True, "n": n})
    await serve_idle(app)
    status = await app.discard_task_dead_letters("work", limit=2)
    assert status == {
        "operation": "discard_dead_letters",
        "task_name": "work",
        "requested": True,
        "completion": "complete",
        "requested_limit": 2,
        "attempted_count": 2,
        "discarded_count": 2,
        "failed_count": 0,
        "empty": False,
    }
    assert dead.size() == 1
    assert source.size() == 0


async def test_replay_partial_and_failed_completion() -> None:
    class FlakySource(MemoryQueue):
        def __init__(self) -> None:
            super().__init__("in")
            self.fail_next = 1

        async def send(self, envelope: Envelope) -> None:
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionError("broker down")
            await super().send(envelope)

    app = OneStepApp("ctl")
    source, dead = FlakySource(), MemoryQueue("dead")

    @app.task(source=source, dead_letter=dead)
    async def work(ctx, item): ...

    for n in range(2):
        await dead.publish({"payload": n, "failure": {}}, meta={"original_meta": {}, "original_attempts": 0})
    partial = await app.replay_task_dead_letters("work", limit=2)
    assert (
        partial["completion"],
        partial["attempted_count"],
        partial["replayed_count"],
        partial["failed_count"],
    ) == (
        "partial",
        2,
        1,
        1,
    )
    assert dead.size() == 1  # the failed one went back
    source.fail_next = 1
    failed = await app.replay_task_dead_letters("work", limit=2)
    assert (failed["completion"], failed["replayed_count"], failed["failed_count"]) == ("failed", 0, 1)


async def test_replay_and_discard_require_capable_connectors() -> None:
    class PlainSink(Sink):
        async def send(self, envelope: Envelope) -> None: ...

    app = OneStepApp("ctl")

    @app.task(source=MemoryQueue("in"), dead_letter=PlainSink("dl"))
    async def work(ctx, item): ...

    with pytest.raises(ValueError, match=r"task 'work' does not support dead-letter replay"):
        await app.replay_task_dead_letters("work", limit=1)
    with pytest.raises(ValueError, match=r"task 'work' does not support dead-letter discard"):
        await app.discard_task_dead_letters("work", limit=1)
    with pytest.raises(ValueError, match=r"^dead-letter replay limit: must be >= 1, got 0$"):
        await app.replay_task_dead_letters("work", limit=0)
    assert app.task_supported_commands("work") == [
        "pause_task",
        "resume_task",
        "restart_task",
        "run_task_once",
    ]


async def test_replay_uses_dead_letter_factory_sink() -> None:
    dead = MemoryQueue("factory-dead")
    app = OneStepApp("ctl", dead_letter_factory=lambda app, spec: dead)
    source = MemoryQueue("in")

    @app.task(source=source)
    async def work(ctx, item):
        raise RuntimeError("x")

    await source.publish("p")
    await serve_idle(app)
    status = await app.replay_task_dead_letters("work", limit=3)
    assert (status["attempted_count"], status["replayed_count"]) == (1, 1)
    assert [e.body for e in source.drain_nowait()] == ["p"]


async def test_run_task_once_status_and_manual_run_meta(events: EventLog) -> None:
    app = OneStepApp("once")
    app.on_event(events)
    seen: list[tuple[object, dict[str, object]]] = []

    @app.task(source=MemoryQueue("in"), retry=MaxAttempts(3))
    async def work(ctx, item):
        seen.append((item, dict(ctx.current.meta)))
        if ctx.current.attempts < 1:
            raise RuntimeError("first try fails")

    status = await app.run_task_once("work", payload={"x": 1})
    assert status == {
        "operation": "run_task_once",
        "task_name": "work",
        "requested": True,
        "completion": "complete",
        "attempted_count": 2,
        "manual_run": True,
    }
    assert seen == [({"x": 1}, {"manual_run": True, "task_name": "work"})] * 2
    assert events.kinds() == ["started", "retried", "started", "succeeded"]


async def test_run_task_once_failure_and_unsupported_source() -> None:
    class NoManual(Source):
        async def fetch(self, limit: int) -> list[Delivery]:
            return []

    app = OneStepApp("once")

    @app.task(source=MemoryQueue("in"))
    async def fails(ctx, item):
        raise RuntimeError("x")

    @app.task(source=NoManual("plain"))
    async def plain(ctx, item): ...

    with pytest.raises(RuntimeError, match=r"manual run of task 'fails' failed after 1 attempt"):
        await app.run_task_once("fails", payload={})
    with pytest.raises(ValueError, match=r"task 'plain' does not support manual run"):
        await app.run_task_once("plain", payload={})


async def test_run_task_once_with_broken_dead_letter_factory_stops_retrying() -> None:
    calls: list[int] = []

    def factory(app, spec):
        calls.append(1)
        raise LookupError("dead-letter table missing")

    app = OneStepApp("once", dead_letter_factory=factory)

    @app.task(source=MemoryQueue("in"))
    async def fails(ctx, item):
        raise RuntimeError("x")

    with pytest.raises(RuntimeError, match=r"manual run of task 'fails' failed after 100 attempt\(s\)"):
        await app.run_task_once("fails", payload={})
    assert len(calls) == 100  # each terminal failure asked again, and the item was retried
