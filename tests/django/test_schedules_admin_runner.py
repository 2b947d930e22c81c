"""The worker side of admin-defined schedules, one process, real time, a MemoryQueue.

(With real worker processes: tests/acceptance/test_admin_schedules.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from django.utils import timezone

from django_onestep import IntervalSource, MemoryQueue, OneStepApp
from django_onestep.models import Schedule
from django_onestep.schedules_db.admin_defined import AdminScheduleRunner

pytestmark = pytest.mark.django_db(transaction=True)


APPS: list[OneStepApp] = []


@pytest.fixture
async def served() -> AsyncIterator[tuple[AdminScheduleRunner, MemoryQueue]]:
    app = OneStepApp("shop")
    APPS[:] = [app]
    queue = MemoryQueue("shop-jobs")

    @app.task(source=queue)
    async def record(ctx: object, payload: object) -> None: ...

    @app.task(source=IntervalSource.every(hours=1))
    async def ticking(ctx: object, payload: object) -> None: ...

    runner = AdminScheduleRunner(app, ["record", "ticking"], using="default", refresh_s=0)
    yield runner, queue
    await runner.stop()


async def one_off(key: str, **fields: object) -> None:
    now = timezone.now()
    await Schedule.objects.acreate(
        key=key,
        origin="admin",
        app="shop",
        task="record",
        definition="one-off",
        payload={"key": key},
        run_requested_at=now - timedelta(seconds=1),
        updated_at=now,
        **fields,
    )


async def test_only_tasks_with_a_queue_are_served(served: tuple[AdminScheduleRunner, MemoryQueue]) -> None:
    runner, _ = served
    assert list(runner.queues) == ["record"]


async def test_a_due_one_off_is_enqueued_once_with_its_payload_and_meta(
    served: tuple[AdminScheduleRunner, MemoryQueue],
) -> None:
    runner, queue = served
    await one_off("once")
    await runner.poll_once()
    await runner.poll_once()
    (job,) = queue.drain_nowait()
    assert job.body == {"key": "once"} and job.meta["schedule"] == "once"
    assert (await Schedule.objects.aget(key="once")).run_requested_at is None


async def test_ticks_outside_the_start_end_window_are_not_enqueued(
    served: tuple[AdminScheduleRunner, MemoryQueue],
) -> None:
    runner, queue = served
    now = timezone.now()
    await one_off("too-late", end_at=now - timedelta(minutes=1))
    await one_off("too-early", start_at=now + timedelta(minutes=1))
    await one_off("inside", start_at=now - timedelta(minutes=1), end_at=now + timedelta(minutes=1))
    await runner.poll_once()
    assert [job.meta["schedule"] for job in queue.drain_nowait()] == ["inside"]


async def test_a_rule_starts_on_its_own_schedule_and_takes_run_now_even_when_paused(
    served: tuple[AdminScheduleRunner, MemoryQueue],
) -> None:
    runner, queue = served
    now = timezone.now()
    rule = await Schedule.objects.acreate(
        key="rule", origin="admin", app="shop", task="record", interval_s=3600, timezone="UTC", updated_at=now
    )
    await runner.poll_once()
    # the first worker to see it stored its first fire: an hour from now, nothing before
    stored = await Schedule.objects.aget(pk=rule.pk)
    assert stored.definition == "interval 3600s UTC" and stored.next_fire_at is not None
    assert stored.next_fire_at > now + timedelta(minutes=59)
    assert queue.drain_nowait() == []
    await Schedule.objects.filter(pk=rule.pk).aupdate(paused=True, run_requested_at=now)
    jobs = []
    for _ in range(8):  # workers look for requests every 2 s
        await runner.poll_once()
        jobs += queue.drain_nowait()
        if jobs:
            break
        await asyncio.sleep(0.5)
    assert [job.meta["schedule"] for job in jobs] == ["rule"]


async def test_a_failed_round_waits_longer_than_a_poll_before_the_next(
    served: tuple[AdminScheduleRunner, MemoryQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_onestep.schedules_db import admin_defined

    runner, _ = served
    pauses: list[float] = []

    async def failing_round() -> None:
        raise ConnectionError("database down")

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            raise asyncio.CancelledError

    monkeypatch.setattr(runner, "poll_once", failing_round)
    monkeypatch.setattr(admin_defined.asyncio, "sleep", sleep)
    with pytest.raises(asyncio.CancelledError):
        await runner._run_forever()
    assert pauses == [5.0, 5.0]  # not 0.5 s: no warning twice a second while the database is down


async def test_the_outcome_of_a_scheduled_job_becomes_the_schedules_last_outcome(
    served: tuple[AdminScheduleRunner, MemoryQueue],
) -> None:
    from django_onestep.core.events import TaskEvent, TaskEventKind

    await one_off("once")
    (app,) = APPS
    meta = {"schedule": "once", "scheduled_at": timezone.now().isoformat()}
    await app.emit_event(
        TaskEvent(kind=TaskEventKind.FAILED, app="shop", task="record", source=None, attempts=0, meta=meta)
    )
    await app.emit_event(
        TaskEvent(kind=TaskEventKind.STARTED, app="shop", task="record", source=None, attempts=1, meta=meta)
    )
    row = await Schedule.objects.aget(key="once")
    assert row.last_outcome == "failed" and row.last_outcome_at is not None
