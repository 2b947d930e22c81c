"""InMemoryMetrics counts and snapshot shape."""

from __future__ import annotations

from django_onestep import FailureKind, InMemoryMetrics, MaxAttempts, MemoryQueue, OneStepApp, TaskEventKind

from .conftest import serve_idle


async def test_snapshot_shape_after_success_retry_and_dead_letter() -> None:
    metrics = InMemoryMetrics()
    app = OneStepApp("m")
    app.on_event(metrics)
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=queue, retry=MaxAttempts(2), dead_letter=dead)
    async def work(ctx, item):
        if item == "bad":
            raise RuntimeError("x")

    await queue.publish("ok")
    await queue.publish("bad")
    await serve_idle(app)
    assert metrics.snapshot() == {
        "kinds": {"fetched": 3, "started": 3, "succeeded": 1, "retried": 1, "dead_lettered": 1, "failed": 1},
        "tasks": {
            "work:fetched": 3,
            "work:started": 3,
            "work:succeeded": 1,
            "work:retried": 1,
            "work:dead_lettered": 1,
            "work:failed": 1,
        },
        "failures": {"retried:error": 1, "dead_lettered:error": 1, "failed:error": 1},
    }
    assert metrics.count(TaskEventKind.STARTED) == 3
    assert metrics.count(TaskEventKind.FAILED, task="work") == 1
    assert metrics.count(TaskEventKind.RETRIED, failure_kind=FailureKind.ERROR) == 1
    metrics.reset()
    assert metrics.snapshot() == {"kinds": {}, "tasks": {}, "failures": {}}
