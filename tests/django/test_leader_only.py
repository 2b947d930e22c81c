"""Leader-only schedules on the database coordinator: the run lease is the election.

Two "workers" in one process, each a source with a coordinator of its own on the same
``Schedule`` row (the real processes: tests/acceptance/test_leader_only.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from django_onestep import IntervalSource, OneStepApp
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.core.schedules.schedule import ScheduleSource
from django_onestep.models import Schedule
from django_onestep.schedules_db.coordinator import DatabaseScheduleCoordinator
from tests.core.schedule_helpers import FakeClock

pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
Pair = tuple[ScheduleSource, ScheduleSource, FakeClock]


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    clock = FakeClock(START)
    sources = []
    for name in ("worker-a", "worker-b"):
        source = IntervalSource.every(seconds=1, timezone="UTC", clock=clock)
        source.make_leader_only()
        coordinator = DatabaseScheduleCoordinator(app="demo", task="lead", using="default")
        coordinator.worker = name
        source.coordinator = coordinator
        await source.open()
        sources.append(source)
    yield sources[0], sources[1], clock
    for source in sources:
        await source.close()


async def tick(source: ScheduleSource, n: int) -> bool:
    claimed: bool = await source.coordinator.claim(source, START + timedelta(seconds=n))
    return claimed


async def test_the_first_claimer_leads_every_tick_until_its_lease_lapses(pair: Pair) -> None:
    a, b, _clock = pair
    assert await tick(a, 1)
    for n in range(2, 6):  # b is never the one, even on the ticks it sees first
        assert not await tick(b, n)
        assert await tick(a, n)
    # a run ending keeps the lease: it is the election, not the run's
    coordinator = a.coordinator
    assert isinstance(coordinator, DatabaseScheduleCoordinator)
    await coordinator.record_outcome("succeeded")
    assert not await tick(b, 6)
    row = await Schedule.objects.aget(key="demo:lead")
    assert row.running_owner == "worker-a"
    # a was SIGKILLed: its lease is not renewed and lapses; b takes over, a cannot come back
    await Schedule.objects.filter(key="demo:lead").aupdate(
        running_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await tick(b, 7)
    assert not await tick(a, 8)
    assert await tick(b, 8)


async def test_a_leader_stopping_hands_over_at_once(pair: Pair) -> None:
    a, b, _clock = pair
    assert await tick(a, 1)
    await a.close()  # graceful: the lease is released, no wait for it to lapse
    assert await tick(b, 2)
    assert (await Schedule.objects.aget(key="demo:lead")).running_owner == "worker-b"


def test_leader_only_on_a_queue_is_a_configuration_error() -> None:
    app = OneStepApp("demo")
    with pytest.raises(ConfigurationError, match=r"task 'q': leader_only=True needs a schedule source"):

        @app.task(name="q", source=MemoryQueue("jobs"), leader_only=True)
        def q(ctx: Any, payload: Any) -> None:
            return None


def test_the_task_option_marks_its_schedule_leader_only() -> None:
    app = OneStepApp("demo")
    source = IntervalSource.every(seconds=5)

    @app.task(source=source, leader_only=True)
    def lead(ctx: Any, payload: Any) -> None:
        return None

    assert source.leader_only


def test_check_marks_a_leader_only_schedule() -> None:
    from django_onestep.core.declarative.check import build_report, render_report

    app = OneStepApp("demo")

    @app.task(source=IntervalSource.every(seconds=5, timezone="UTC"), leader_only=True)
    def lead(ctx: Any, payload: Any) -> None:
        return None

    @app.task(source=IntervalSource.every(seconds=5, timezone="UTC", name="other"))
    def anywhere(ctx: Any, payload: Any) -> None:
        return None

    report = build_report(app)
    assert report["tasks"][0]["schedule"]["leader_only"] is True
    assert "leader_only" not in report["tasks"][1]["schedule"]
    lines = render_report(report).splitlines()
    assert " misfire=run_once leader-only next=" in lines[4]  # lead's details line
    assert "leader-only" not in lines[6]  # anywhere's
