"""``executor="process"``: sync handlers in child processes, with soft and hard time limits.

The handlers live in ``tests/core/process_handlers.py`` so the spawned children import
them by name, as they import a project's ``tasks.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

import pytest

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.processes.pool_options import ProcessPoolOptions
from django_onestep.core.retry import FailureInfo, MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.core.runtime.task import TaskHooks
from tests.core import process_handlers as handlers


def process_task(app: OneStepApp, handler: Any, source: MemoryQueue, **options: Any) -> None:
    app.task(source=source, executor="process", **options)(handler)


async def test_the_handler_runs_in_a_child_and_its_result_goes_to_the_emit_sinks() -> None:
    app = OneStepApp("proc-result")
    source, out = MemoryQueue("in"), MemoryQueue("out")
    process_task(app, handlers.report_pid, source, emit=out, concurrency=2)
    for n in range(4):
        await source.publish(n)
    await asyncio.wait_for(app.serve(until_idle=True), 60)
    results = [e.body for e in out.drain_nowait()]
    assert sorted(r["n"] for r in results) == [0, 1, 2, 3]
    assert {r["task"] for r in results} == {"report_pid"}
    assert os.getpid() not in {r["pid"] for r in results}
    assert len({r["pid"] for r in results}) <= 2  # children are reused, one per slot at most


async def test_a_handler_past_its_hard_limit_is_killed_and_dead_lettered_while_others_run() -> None:
    app = OneStepApp("proc-hard-limit")
    stuck, ticks, dead = MemoryQueue("stuck"), MemoryQueue("ticks"), MemoryQueue("dead")
    failures: list[FailureInfo] = []
    hooks = TaskHooks(on_failure=[lambda ctx, payload, failure: failures.append(failure)])
    process_task(
        app,
        handlers.spin_forever,
        stuck,
        time_limit_s=1.0,
        retry=MaxAttempts(2),
        dead_letter=dead,
        hooks=hooks,
    )
    ticked: list[float] = []

    @app.task(source=ticks)
    async def tick(ctx: Any, payload: Any) -> None:
        ticked.append(time.monotonic())
        await asyncio.sleep(0.1)
        if not dead.size():
            await ticks.publish(payload + 1)

    await stuck.publish("hang")
    await ticks.publish(0)
    started = time.monotonic()
    await asyncio.wait_for(app.serve(until_idle=True), 60)
    elapsed = time.monotonic() - started
    assert dead.size() == 1
    assert [f.kind.value for f in failures] == ["timeout", "timeout"]
    assert failures[0].exception_type == "HardTimeLimitExceeded"
    assert elapsed < 2 * 1.0 + 8  # two killed attempts plus the children's start-up
    # the event loop kept running other work while the child spun
    assert len(ticked) >= 10 and max(b - a for a, b in itertools.pairwise(ticked)) < 1.0


async def test_the_soft_limit_raises_inside_the_handler_which_may_clean_up() -> None:
    app = OneStepApp("proc-soft-limit")
    source, out = MemoryQueue("in"), MemoryQueue("out")
    process_task(app, handlers.clean_up_on_soft_limit, source, emit=out, timeout_s=0.3, time_limit_s=5)
    await source.publish(1)
    await asyncio.wait_for(app.serve(until_idle=True), 60)
    [envelope] = out.drain_nowait()
    assert envelope.body.startswith("cleaned up in ")


async def test_an_exception_comes_back_as_itself_for_the_retry_policy() -> None:
    app = OneStepApp("proc-errors")
    source, dead = MemoryQueue("in"), MemoryQueue("dead")
    failures: list[FailureInfo] = []
    hooks = TaskHooks(on_failure=[lambda ctx, payload, failure: failures.append(failure)])
    process_task(app, handlers.raise_value_error, source, retry=MaxAttempts(2), dead_letter=dead, hooks=hooks)
    await source.publish("x")
    await asyncio.wait_for(app.serve(until_idle=True), 60)
    assert [(f.kind.value, f.exception_type, f.message) for f in failures] == [
        ("error", "ValueError", "bad input 'x'")
    ] * 2
    assert dead.size() == 1


async def test_a_child_that_dies_mid_task_fails_that_attempt_and_the_retry_gets_a_new_child() -> None:
    app = OneStepApp("proc-crash")
    source, out = MemoryQueue("in"), MemoryQueue("out")
    failures: list[FailureInfo] = []
    hooks = TaskHooks(on_failure=[lambda ctx, payload, failure: failures.append(failure)])
    process_task(app, handlers.die_on_first_attempt, source, emit=out, retry=MaxAttempts(2), hooks=hooks)
    await source.publish(1)
    await asyncio.wait_for(app.serve(until_idle=True), 60)
    assert [f.exception_type for f in failures] == ["ChildProcessDied"]
    [envelope] = out.drain_nowait()
    assert envelope.body != os.getpid()


async def test_children_are_recycled_after_max_tasks_per_child() -> None:
    app = OneStepApp("proc-recycle")
    app.process_pool_options = ProcessPoolOptions(size=1, max_tasks_per_child=2)
    source, out = MemoryQueue("in"), MemoryQueue("out")
    process_task(app, handlers.report_pid, source, emit=out)
    for n in range(5):
        await source.publish(n)
    await asyncio.wait_for(app.serve(until_idle=True), 60)
    pids = [e.body["pid"] for e in out.drain_nowait()]
    assert len(pids) == 5
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]


async def test_a_child_over_its_memory_limit_is_replaced_after_answering() -> None:
    app = OneStepApp("proc-memory")
    app.process_pool_options = ProcessPoolOptions(size=1, max_memory_per_child_mb=150)
    source, out = MemoryQueue("in"), MemoryQueue("out")
    process_task(app, handlers.grow_memory, source, emit=out)
    for megabytes in (1, 1, 200, 1):
        await source.publish(megabytes)
    await asyncio.wait_for(app.serve(until_idle=True), 60)
    pids = [e.body for e in out.drain_nowait()]
    assert pids[0] == pids[1] == pids[2] != pids[3]


def some_handler(ctx: Any, payload: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"executor": "fork"}, "task 'h' executor: must be 'thread' or 'process', got 'fork'"),
        (
            {"time_limit_s": 5},
            "task 'h' time_limit_s: a hard time limit needs executor='process' (a thread cannot be killed); "
            "use timeout_s=... for a limit the handler sees as an exception",
        ),
        (
            {"executor": "process", "timeout_s": 5, "time_limit_s": 5},
            "task 'h' time_limit_s: must be longer than timeout_s",
        ),
        ({"executor": "process", "time_limit_s": -1}, "task 'h' time_limit_s"),
    ],
)
def test_bad_executor_options_are_named(options: dict[str, Any], message: str) -> None:
    app = OneStepApp("proc-options")
    with pytest.raises(ConfigurationError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        app.task(name="h", source=MemoryQueue("q"), **options)(some_handler)


def test_an_async_handler_or_a_local_function_cannot_run_in_a_child() -> None:
    app = OneStepApp("proc-refused")

    async def coroutine_handler(ctx: Any, payload: Any) -> None:
        pass

    def local_handler(ctx: Any, payload: Any) -> None:
        pass

    with pytest.raises(
        ConfigurationError, match=r"executor='process': runs sync handlers \(def, not async def\)"
    ):
        app.task(source=MemoryQueue("a"), executor="process")(coroutine_handler)
    with pytest.raises(
        ConfigurationError,
        match=r"executor='process': needs a handler defined at module level in an importable",
    ):
        app.task(source=MemoryQueue("b"), executor="process")(local_handler)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": 0}, "process pool size: must be >= 1, got 0"),
        (
            {"max_tasks_per_child": 1.5},
            "process pool max_tasks_per_child: must be an integer or None, got 1.5",
        ),
        ({"max_memory_per_child_mb": 0}, "process pool max_memory_per_child_mb: must be > 0, got 0"),
    ],
)
def test_bad_pool_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ProcessPoolOptions(**options)
