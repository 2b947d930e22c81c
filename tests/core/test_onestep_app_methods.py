"""onestep 1.15's public OneStepApp methods: waiters, restart, task control snapshots,
per-task runner stop/start/restart, emit_event, named resources, supports_* flags.

Modelled on onestep's own contract tests (tests/contract/test_runtime_contract.py),
reading our public ``app.runtime`` where onestep's tests read private attributes.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from django_onestep import Envelope, MemoryQueue, OneStepApp, TaskEvent, TaskEventKind
from django_onestep.core.base import Sink

from .conftest import DEADLINE_S, serve_idle, wait_until


class TrackedQueue(MemoryQueue):
    """A MemoryQueue that counts open() and close() calls."""

    def __init__(self, name: str) -> None:
        super().__init__(name, batch_size=1, poll_interval_s=0.01)
        self.opened = 0
        self.closed = 0

    async def open(self) -> None:
        self.opened += 1

    async def close(self) -> None:
        self.closed += 1


async def _start(app: OneStepApp) -> asyncio.Task[None]:
    serving = asyncio.create_task(app.serve())
    await wait_until(lambda: all(s["runner_count"] == 1 for s in app.task_control_snapshots()))
    return serving


async def _stop(app: OneStepApp, serving: asyncio.Task[None]) -> None:
    app.request_shutdown()
    await asyncio.wait_for(serving, DEADLINE_S)


# -- waiters ----------------------------------------------------------------------------


async def test_wait_for_stop_fetching_returns_on_shutdown_drain_or_that_tasks_pause() -> None:
    app = OneStepApp("wsf")

    @app.task(source=MemoryQueue("a"))
    async def a(ctx, item): ...

    @app.task(source=MemoryQueue("b"))
    async def b(ctx, item): ...

    waiting = asyncio.create_task(app.wait_for_stop_fetching("a"))
    app.request_task_pause("b")  # another task's pause: not for "a"
    await asyncio.sleep(0.02)
    assert not waiting.done()
    app.request_task_pause("a")
    await asyncio.wait_for(waiting, DEADLINE_S)

    app.request_task_resume("a")
    waiting = asyncio.create_task(app.wait_for_stop_fetching())
    app.request_task_pause("a")  # without a task name, pauses do not count
    await asyncio.sleep(0.02)
    assert not waiting.done()
    app.request_drain()
    await asyncio.wait_for(waiting, DEADLINE_S)

    other = OneStepApp("wsf2")
    waiting = asyncio.create_task(other.wait_for_stop_fetching("a"))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    threading.Thread(target=other.request_shutdown).start()
    await asyncio.wait_for(waiting, DEADLINE_S)


async def test_cancelled_stop_fetching_waiter_does_not_leak_child_tasks() -> None:
    app = OneStepApp("stop-fetching-cancellation")
    for _ in range(100):
        wait_task = asyncio.create_task(app.wait_for_stop_fetching("missing-task"))
        await asyncio.sleep(0)
        wait_task.cancel()
        await asyncio.gather(wait_task, return_exceptions=True)
    current = asyncio.current_task()
    leaked = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    assert leaked == []


async def test_wait_for_drain_request_returns_once_a_drain_is_requested() -> None:
    app = OneStepApp("wdr")
    queue = MemoryQueue("in", poll_interval_s=0.01)

    @app.task(source=queue)
    async def work(ctx, item): ...

    serving = await _start(app)
    waiting = asyncio.create_task(app.wait_for_drain_request())
    await asyncio.sleep(0.02)
    assert not waiting.done()
    threading.Thread(target=app.request_drain).start()
    await asyncio.wait_for(waiting, DEADLINE_S)
    await asyncio.wait_for(app.wait_for_drain_request(), DEADLINE_S)  # already requested: at once
    await _stop(app, serving)


async def test_wait_for_task_pause_request_returns_on_that_pause_or_a_shutdown() -> None:
    app = OneStepApp("wpr")

    @app.task(source=MemoryQueue("a"))
    async def a(ctx, item): ...

    @app.task(source=MemoryQueue("b"))
    async def b(ctx, item): ...

    waiting = asyncio.create_task(app.wait_for_task_pause_request("a"))
    app.request_task_pause("b")
    app.request_drain()  # a drain is not a pause
    await asyncio.sleep(0.02)
    assert not waiting.done()
    app.request_task_pause("a")
    await asyncio.wait_for(waiting, DEADLINE_S)

    waiting = asyncio.create_task(app.wait_for_task_pause_request("b-never-paused"))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    app.request_shutdown()
    await asyncio.wait_for(waiting, DEADLINE_S)


# -- restart ------------------------------------------------------------------------------


async def test_request_restart_stops_serve_and_stays_readable_until_the_next_serve() -> None:
    app = OneStepApp("rr")
    queue = MemoryQueue("in", poll_interval_s=0.01)

    @app.task(source=queue)
    async def work(ctx, item):
        ctx.app.request_restart()

    assert app.restart_requested is False
    await queue.publish(1)
    await asyncio.wait_for(app.serve(), DEADLINE_S)  # the restart is a shutdown
    assert app.restart_requested is True  # for whoever runs the app: start it again
    assert app.is_stopping is False
    await serve_idle(app)  # a new serve() starts afresh
    assert app.restart_requested is False


async def test_request_restart_before_serve_stops_serve_at_once_and_stays_true() -> None:
    app = OneStepApp("rr2")

    @app.task(source=MemoryQueue("in"))
    async def work(ctx, item): ...

    app.request_restart()
    assert app.is_stopping is True
    await asyncio.wait_for(app.serve(), DEADLINE_S)  # would serve forever otherwise
    assert app.restart_requested is True


# -- task control snapshots -----------------------------------------------------------------


async def test_task_control_snapshot_shape_while_paused_and_for_every_task() -> None:
    app = OneStepApp("snap")
    dead = MemoryQueue("dead")

    @app.task(source=MemoryQueue("in", poll_interval_s=0.01), dead_letter=dead, concurrency=2)
    async def work(ctx, item): ...

    @app.task()
    async def no_source(ctx, item): ...

    @app.task(source=MemoryQueue("other"))
    async def other(ctx, item): ...

    commands = ["pause_task", "resume_task", "restart_task", "discard_dead_letters", "replay_dead_letters"]
    commands.append("run_task_once")
    assert app.task_control_snapshot("work") == {
        "task_name": "work",
        "supported_commands": commands,
        "pause_requested": False,
        "paused": False,
        "accepting_new_work": True,
        "runner_count": 0,
        "parked_runner_count": 0,
        "fetching_runner_count": 0,
        "inflight_task_count": 0,
    }
    serving = await _start(app)
    app.request_task_pause("work")
    await asyncio.wait_for(app.wait_for_task_pause("work"), DEADLINE_S)
    assert app.task_control_snapshot("work") == {
        "task_name": "work",
        "supported_commands": commands,
        "pause_requested": True,
        "paused": True,
        "accepting_new_work": False,
        "runner_count": 1,
        "parked_runner_count": 1,
        "fetching_runner_count": 0,
        "inflight_task_count": 0,
    }
    snapshots = app.task_control_snapshots()
    assert [s["task_name"] for s in snapshots] == ["work", "other"]  # tasks with a source
    assert snapshots[0]["paused"] is True and snapshots[1]["paused"] is False
    with pytest.raises(ValueError, match=r"task 'ghost' was not found in app 'snap'"):
        app.task_control_snapshot("ghost")
    with pytest.raises(ValueError, match=r"task 'no_source' does not have a controllable source runner"):
        app.task_control_snapshot("no_source")
    await _stop(app, serving)


# -- per-task runner stop / start / restart -------------------------------------------------


async def test_restart_task_runner_resets_one_task_without_disturbing_others() -> None:
    restart_source, other_source = TrackedQueue("restart.in"), TrackedQueue("other.in")
    app = OneStepApp("task-restart")
    other_seen: list[int] = []
    restart_seen: list[int] = []

    @app.task(name="other", source=other_source)
    async def other(ctx, item):
        other_seen.append(item)

    @app.task(name="restartable", source=restart_source)
    async def restartable(ctx, item):
        restart_seen.append(item)

    await other_source.publish(1)
    serving = await _start(app)
    await wait_until(lambda: other_seen == [1])
    handles = app.runtime.runner_handles
    original, other_before = handles["restartable"], handles["other"]

    status = await asyncio.wait_for(app.restart_task_runner("restartable"), DEADLINE_S)
    assert status["task_name"] == "restartable"
    assert status["runner_count"] == 1
    assert status["pause_requested"] is False
    assert original.done()  # a fresh runner
    assert app.runtime.runner_handles["restartable"] is not original
    assert not app.runtime.runner_handles["restartable"].done()
    assert app.runtime.runner_handles["other"] is other_before  # untouched
    assert not other_before.done()
    assert len(app.runtime.lifecycle.runners) == 2
    assert (restart_source.opened, restart_source.closed) == (2, 1)  # its private source reopened
    assert (other_source.opened, other_source.closed) == (1, 0)

    await restart_source.publish(7)
    await wait_until(lambda: restart_seen == [7])
    await other_source.publish(2)
    await wait_until(lambda: other_seen == [1, 2])
    await _stop(app, serving)
    assert (restart_source.closed, other_source.closed) == (2, 1)


async def test_restart_task_runner_does_not_close_a_shared_source() -> None:
    shared = TrackedQueue("shared.in")
    app = OneStepApp("shared-restart")
    b_seen: list[int] = []

    @app.task(name="task_a", source=shared)
    async def task_a(ctx, item): ...

    @app.task(name="task_b", source=shared)
    async def task_b(ctx, item):
        b_seen.append(item)

    serving = await _start(app)
    b_before = app.runtime.runner_handles["task_b"]
    await asyncio.wait_for(app.restart_task_runner("task_a"), DEADLINE_S)
    assert app.runtime.runner_handles["task_b"] is b_before
    assert not b_before.done()
    assert (shared.opened, shared.closed) == (1, 0)  # task_b still reads it
    for value in range(8):
        await shared.publish(value)
    await wait_until(lambda: bool(b_seen))
    await _stop(app, serving)


async def test_stop_task_runner_finishes_inflight_work_and_keeps_serving() -> None:
    source, other_source = TrackedQueue("a.in"), TrackedQueue("b.in")
    app = OneStepApp("stop-one")
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []
    b_seen: list[int] = []

    @app.task(name="a", source=source)
    async def a(ctx, item):
        started.set()
        await release.wait()
        finished.append(item)

    @app.task(name="b", source=other_source)
    async def b(ctx, item):
        b_seen.append(item)

    await source.publish("in flight")
    serving = await _start(app)
    await asyncio.wait_for(started.wait(), DEADLINE_S)
    app.request_task_pause("a")
    stopping = asyncio.create_task(app.stop_task_runner("a"))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waits for the delivery in flight, as a shutdown would
    release.set()
    status = await asyncio.wait_for(stopping, DEADLINE_S)
    assert finished == ["in flight"]
    assert status == {
        "task_name": "a",
        "supported_commands": ["pause_task", "resume_task", "restart_task", "run_task_once"],
        "pause_requested": False,  # forgotten with the runner
        "paused": False,
        "accepting_new_work": True,
        "runner_count": 0,
        "parked_runner_count": 0,
        "fetching_runner_count": 0,
        "inflight_task_count": 0,
    }
    assert app.runtime_status()["tasks"]["a"]["running"] is False
    assert source.closed == 1
    await source.publish("not fetched")
    await other_source.publish(5)
    await wait_until(lambda: b_seen == [5])  # the other task goes on
    assert source.size() == 1

    status = await asyncio.wait_for(app.start_task_runner("a"), DEADLINE_S)
    assert status["runner_count"] == 1
    await wait_until(lambda: finished == ["in flight", "not fetched"])
    assert (source.opened, source.closed) == (2, 1)
    await _stop(app, serving)


async def test_a_shutdown_during_a_task_stop_waits_for_that_runner_before_closing() -> None:
    source = TrackedQueue("in")
    app = OneStepApp("stop-then-shutdown")
    started, release = asyncio.Event(), asyncio.Event()
    closed_when_done: list[int] = []

    @app.task(source=source)
    async def work(ctx, item):
        started.set()
        await release.wait()
        closed_when_done.append(source.closed)

    await source.publish(1)
    serving = await _start(app)
    await asyncio.wait_for(started.wait(), DEADLINE_S)
    stopping = asyncio.create_task(app.stop_task_runner("work"))
    await asyncio.sleep(0.02)
    app.request_shutdown()
    await asyncio.sleep(0.05)
    assert not serving.done()  # the runner being stopped still has work in flight
    release.set()
    await asyncio.wait_for(asyncio.gather(stopping, serving), DEADLINE_S)
    assert closed_when_done == [0]  # its source was still open while it ran
    assert source.closed == 1  # and closed once


async def test_serving_goes_on_with_every_runner_stopped_until_a_shutdown() -> None:
    queue = MemoryQueue("in", poll_interval_s=0.01)
    app = OneStepApp("all-stopped")
    seen: list[int] = []

    @app.task(source=queue)
    async def work(ctx, item):
        seen.append(item)

    serving = await _start(app)
    await app.stop_task_runner("work")
    await asyncio.sleep(0.05)
    assert not serving.done()
    await app.start_task_runner("work")
    await app.start_task_runner("work")  # already running: nothing to do
    assert app.task_control_snapshot("work")["runner_count"] == 1
    await queue.publish(1)
    await wait_until(lambda: seen == [1])
    await app.stop_task_runner("work")
    await _stop(app, serving)


async def test_runner_control_outside_serve_and_for_unknown_tasks() -> None:
    source = TrackedQueue("in")
    app = OneStepApp("idle")

    @app.task(source=source)
    async def work(ctx, item): ...

    @app.task()
    async def no_source(ctx, item): ...

    status = await app.stop_task_runner("work")  # nothing runs: only the snapshot
    assert (status["runner_count"], source.closed) == (0, 0)  # never opened, not closed
    with pytest.raises(RuntimeError, match=r"task 'work': app 'idle' is not serving"):
        await app.start_task_runner("work")
    with pytest.raises(RuntimeError, match=r"app 'idle' is not serving"):
        await app.restart_task_runner("work")
    assert source.opened == 0
    for control in (app.stop_task_runner, app.start_task_runner, app.restart_task_runner):
        with pytest.raises(ValueError, match=r"task 'ghost' was not found in app 'idle'"):
            await control("ghost")
        with pytest.raises(ValueError, match=r"task 'no_source' does not have a controllable source runner"):
            await control("no_source")


# -- emit_event ---------------------------------------------------------------------------


async def test_emit_event_reaches_every_handler_even_after_one_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = OneStepApp("ev")
    seen: list[str] = []

    @app.on_event
    def broken(event):
        raise RuntimeError("handler bug")

    @app.on_event
    async def observe(event):
        seen.append(f"{event.kind.value}:{event.task}")

    event = TaskEvent(kind=TaskEventKind.SUCCEEDED, app="ev", task="manual", source=None, attempts=0)
    with caplog.at_level(logging.ERROR, logger="onestep.ev.events"):
        await app.emit_event(event)
    assert seen == ["succeeded:manual"]
    assert [r.getMessage() for r in caplog.records] == ["event handler failed"]


# -- named resources ----------------------------------------------------------------------


async def test_named_resources_open_first_close_last_and_survive_a_task_stop() -> None:
    log: list[str] = []

    class Resource:
        def __init__(self, name: str) -> None:
            self.name = name

        async def open(self) -> None:
            log.append(f"open {self.name}")

        async def close(self) -> None:
            log.append(f"close {self.name}")

    class LoggedQueue(MemoryQueue):
        async def open(self) -> None:
            log.append(f"open {self.name}")

        async def close(self) -> None:
            log.append(f"close {self.name}")

    app = OneStepApp("res")
    queue = LoggedQueue("in", poll_interval_s=0.01)
    db = Resource("db")
    assert app.register_resource("db", db) is db
    assert app.register_resource("queue", queue) is queue  # the task's source is also named
    assert dict(app.resources) == {"db": db, "queue": queue}

    @app.task(source=queue)
    async def work(ctx, item): ...

    serving = await _start(app)
    assert log == ["open db", "open in"]  # named first, each once
    await app.stop_task_runner("work")
    assert log == ["open db", "open in"]  # a named resource is shared: not closed
    await _stop(app, serving)
    assert log == ["open db", "open in", "close in", "close db"]
    assert app.describe()["resources"] == [
        {"key": "db", "name": "db", "type": "Resource"},
        {"key": "queue", "name": "in", "type": "LoggedQueue"},
    ]

    app.bind_resources({"cache": db})
    assert dict(app.resources) == {"cache": db}
    with pytest.raises(TypeError):
        app.resources["x"] = 1  # type: ignore[index]  # a read-only view
    with pytest.raises(ValueError, match=r"register_resource\(\): name must be a non-empty string, got 5"):
        app.register_resource(5, db)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"bind_resources\(\): resources must be a mapping, got \[1\]"):
        app.bind_resources([1])  # type: ignore[arg-type]


# -- supports_*_commands -------------------------------------------------------------------


def test_supports_commands_flags_say_whether_some_task_supports_the_command() -> None:
    class PlainSink(Sink):
        async def send(self, envelope: Envelope) -> None: ...

    app = OneStepApp("flags")
    assert (
        app.supports_dead_letter_replay_commands(),
        app.supports_dead_letter_discard_commands(),
        app.supports_manual_run_commands(),
    ) == (False, False, False)

    class NoManualRun(MemoryQueue):
        supports_manual_run = False

    @app.task(source=NoManualRun("in"), dead_letter=PlainSink("dead"))
    async def plain(ctx, item): ...

    assert (
        app.supports_dead_letter_replay_commands(),
        app.supports_dead_letter_discard_commands(),
        app.supports_manual_run_commands(),
    ) == (False, False, False)

    @app.task(source=MemoryQueue("in2"), dead_letter=MemoryQueue("dead2"))
    async def capable(ctx, item): ...

    assert (
        app.supports_dead_letter_replay_commands(),
        app.supports_dead_letter_discard_commands(),
        app.supports_manual_run_commands(),
    ) == (True, True, True)
