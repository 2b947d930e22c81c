"""The database schedule coordinator: once across workers, restarts resume, misfire, DST.

Each "worker" is a source of its own with a coordinator of its own on the same
``Schedule`` row, driven by a fake clock (the real processes are in
tests/acceptance/test_schedule_workers.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from django_onestep import CronSource, IntervalSource, OneStepApp
from django_onestep.core.events import TaskEvent, TaskEventKind
from django_onestep.core.schedules.schedule import ScheduleSource
from django_onestep.models import Schedule, ScheduleFire
from django_onestep.schedules_db.coordinator import DatabaseScheduleCoordinator
from django_onestep.schedules_db.install import install_schedule_coordinators
from tests.core.schedule_helpers import FakeClock

pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
Make = Callable[..., ScheduleSource]


@pytest.fixture
async def workers() -> AsyncIterator[Make]:
    """``make(factory)``: a source coordinated on the ``demo:tick`` row; closed at the end."""
    made: list[ScheduleSource] = []

    def make(factory: Callable[[], ScheduleSource], task: str = "tick") -> ScheduleSource:
        source = factory()
        coordinator = DatabaseScheduleCoordinator(app="demo", task=task, using="default")
        coordinator.worker = f"worker-{len(made)}"  # one process plays several workers
        source.coordinator = coordinator
        made.append(source)
        return source

    yield make
    for source in made:
        await source.close()


async def fire(source: ScheduleSource) -> list[str]:
    stamps = []
    for delivery in await source.fetch(10):
        stamps.append(delivery.envelope.meta["scheduled_at"])
        await delivery.ack()
    return stamps


async def test_three_workers_fire_each_tick_once_on_the_first_workers_grid(workers: Make) -> None:
    clock = FakeClock(START)
    sources = []
    for offset_ms in (0, 300, 600):  # started at different moments
        clock.set(START + timedelta(milliseconds=offset_ms))
        source = workers(lambda: IntervalSource.every(seconds=1, timezone="UTC", clock=clock))
        await source.open()
        sources.append(source)
    fired: list[str] = []
    for step in range(1, 41):  # 10 s in 250 ms polls, each worker polling in turn
        clock.set(START + timedelta(milliseconds=250 * step))
        for source in sources:
            fired += await fire(source)
    assert fired == [(START + timedelta(seconds=n)).isoformat() for n in range(1, 11)]
    assert [
        fire_at
        async for fire_at in ScheduleFire.objects.order_by("fire_at").values_list("fire_at", flat=True)
    ] == [START + timedelta(seconds=n) for n in range(1, 11)]
    row = await Schedule.objects.aget(key="demo:tick")
    assert (row.last_fire_at, row.next_fire_at) == (
        START + timedelta(seconds=10),
        START + timedelta(seconds=11),
    )
    assert row.definition == "interval 1s UTC"


async def test_a_restart_resumes_from_the_persisted_next_fire(workers: Make) -> None:
    clock = FakeClock(START)
    first = workers(lambda: IntervalSource.every(minutes=10, timezone="UTC", clock=clock))
    clock.advance(minutes=10)
    await first.open()
    assert await fire(first) == []
    clock.advance(minutes=10)
    assert await fire(first) == ["2026-01-05T12:20:00+00:00"]
    await first.close()
    clock.advance(minutes=5)  # restarted at 12:25: onestep alone would fire at 12:35
    again = workers(lambda: IntervalSource.every(minutes=10, timezone="UTC", clock=clock))
    await again.open()
    assert again.next_fire_at == datetime(2026, 1, 5, 12, 30, tzinfo=UTC)
    clock.advance(minutes=5)
    assert await fire(again) == ["2026-01-05T12:30:00+00:00"]


@pytest.mark.parametrize(
    ("misfire", "expected"),
    [("skip", []), ("run_once", ["12:03"]), ("catch_up", ["12:01", "12:02", "12:03"])],
)
async def test_three_ticks_missed_while_every_worker_was_down(
    workers: Make, misfire: str, expected: list[str]
) -> None:
    clock = FakeClock(START - timedelta(seconds=30))
    before = workers(lambda: CronSource("* * * * *", timezone="UTC", misfire=misfire, clock=clock))
    await before.open()
    clock.set(START)
    assert await fire(before) == ["2026-01-05T12:00:00+00:00"]
    await before.close()
    clock.set(START + timedelta(minutes=3, seconds=30))  # 12:01, 12:02 and 12:03 went by
    restarted = [
        workers(lambda: CronSource("* * * * *", timezone="UTC", misfire=misfire, clock=clock))
        for _ in range(3)
    ]
    fired: list[str] = []
    for _ in range(5):
        for source in restarted:
            fired += await fire(source)
    assert sorted(fired) == [f"2026-01-05T{hm}:00+00:00" for hm in expected]
    assert all(source.next_fire_at == datetime(2026, 1, 5, 12, 4, tzinfo=UTC) for source in restarted)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Europe/Berlin", date(2026, 3, 29)),  # 02:00 -> 03:00: 02:30 does not exist
        ("Europe/Berlin", date(2026, 10, 25)),  # 03:00 -> 02:00: 02:30 happens twice
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
    ],
)
async def test_daily_0230_fires_once_a_day_over_dst_with_hourly_restarts(
    workers: Make, zone: str, day: date
) -> None:
    tz = ZoneInfo(zone)
    clock = FakeClock(datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC) - timedelta(days=1))
    end = clock.current + timedelta(days=3)
    fired: list[datetime] = []
    source = None
    while clock.current < end:
        if clock.current.minute == 0:  # a worker restart every hour: resume from the row
            if source is not None:
                await source.close()
            source = workers(lambda: CronSource("30 2 * * *", timezone=zone, clock=clock))
        assert source is not None
        fired += [datetime.fromisoformat(stamp) for stamp in await fire(source)]
        clock.advance(minutes=5)
    per_day = Counter(stamp.astimezone(tz).date() for stamp in fired)
    assert per_day == {day - timedelta(days=1): 1, day: 1, day + timedelta(days=1): 1}
    if day.month == 3:  # the missing 02:30 fires when the clocks jump, at 03:00
        (jump,) = [stamp for stamp in fired if stamp.astimezone(tz).date() == day]
        assert jump.astimezone(tz).hour == 3 and jump.astimezone(tz).minute == 0


async def start_run(source: ScheduleSource) -> list[Any]:
    return list(await source.fetch(10))


async def end_run(source: ScheduleSource, deliveries: list[Any]) -> None:
    for delivery in deliveries:
        await delivery.ack()
    await source.coordinator.record_outcome("succeeded")  # type: ignore[attr-defined]  # the event hook's call


async def test_overlap_skip_skips_a_tick_while_the_run_is_in_flight_on_another_worker(workers: Make) -> None:
    clock = FakeClock(START)
    a, b = (
        workers(lambda: IntervalSource.every(seconds=1, timezone="UTC", overlap="skip", clock=clock))
        for _ in "ab"
    )
    await a.open()
    await b.open()
    clock.advance(seconds=1)
    running = await start_run(a)
    assert [d.envelope.meta["scheduled_at"] for d in running] == ["2026-01-05T12:00:01+00:00"]
    for _ in range(2):  # 12:00:02 and 12:00:03 come due on b while a's run goes on
        clock.advance(seconds=1)
        assert await start_run(b) == []
    await end_run(a, running)
    clock.advance(seconds=1)
    assert [d.envelope.meta["scheduled_at"] for d in await start_run(b)] == ["2026-01-05T12:00:04+00:00"]


async def test_overlap_queue_runs_the_waiting_tick_after_the_run_on_another_worker(workers: Make) -> None:
    clock = FakeClock(START)
    a, b = (
        workers(lambda: IntervalSource.every(seconds=1, timezone="UTC", overlap="queue", clock=clock))
        for _ in "ab"
    )
    await a.open()
    await b.open()
    clock.advance(seconds=1)
    running = await start_run(a)
    clock.advance(seconds=1)
    assert await start_run(b) == []  # 12:00:01 (fired on a) and 12:00:02 wait on b
    assert b.queued_run_count == 2
    await end_run(a, running)
    # b's queue head 12:00:01 is refused (it fired on a), then 12:00:02 runs
    after = [d for _ in range(3) for d in await start_run(b)]
    assert [d.envelope.meta["scheduled_at"] for d in after] == ["2026-01-05T12:00:02+00:00"]
    assert await start_run(a) == []  # a has a run in flight elsewhere again: it waits


async def test_a_paused_schedule_fires_nowhere_until_resumed(workers: Make) -> None:
    clock = FakeClock(START)
    source = workers(lambda: IntervalSource.every(seconds=10, timezone="UTC", clock=clock))
    await source.open()
    await Schedule.objects.filter(key="demo:tick").aupdate(paused=True)
    clock.advance(seconds=10)
    assert await fire(source) == []
    await Schedule.objects.filter(key="demo:tick").aupdate(paused=False)
    clock.advance(seconds=10)
    assert await fire(source) == ["2026-01-05T12:00:20+00:00"]


async def test_a_changed_rule_starts_afresh_instead_of_resuming(workers: Make) -> None:
    clock = FakeClock(START)
    daily = workers(lambda: CronSource("0 3 * * *", timezone="UTC", clock=clock))
    await daily.open()
    await daily.close()
    clock.advance(seconds=30)
    minutely = workers(lambda: CronSource("* * * * *", timezone="UTC", immediate=True, clock=clock))
    assert await fire(minutely) == ["2026-01-05T12:00:30+00:00"]  # a new rule: immediate honoured
    assert minutely.next_fire_at == START + timedelta(minutes=1)
    assert (await Schedule.objects.aget(key="demo:tick")).definition == "cron * * * * * UTC"


async def test_the_worker_wiring_records_the_last_outcome_and_keeps_a_users_coordinator() -> None:
    app = OneStepApp("demo")
    own = IntervalSource.every(seconds=5, timezone="UTC")
    custom = object()
    own.coordinator = custom  # type: ignore[assignment]

    @app.task(source=IntervalSource.every(seconds=5, timezone="UTC"))
    async def tick(ctx: object, payload: object) -> None: ...

    @app.task(source=own)
    async def mine(ctx: object, payload: object) -> None: ...

    installed = install_schedule_coordinators(app, ["tick", "mine"])
    assert list(installed) == ["tick"] and own.coordinator is custom
    spec = next(spec for spec in app.tasks if spec.name == "tick")
    await spec.source.open()
    try:
        await app.emit_event(
            TaskEvent(kind=TaskEventKind.FAILED, app="demo", task="tick", source=None, attempts=0)
        )
        row = await Schedule.objects.aget(key="demo:tick")
        assert row.last_outcome == "failed" and row.last_outcome_at is not None
    finally:
        await spec.source.close()


async def test_the_run_lease_is_taken_with_the_tick_and_lapses_when_its_worker_dies(workers: Make) -> None:
    clock = FakeClock(START)
    a, b = (
        workers(lambda: IntervalSource.every(seconds=1, timezone="UTC", overlap="skip", clock=clock))
        for _ in "ab"
    )
    await a.open()
    await b.open()
    assert await a.coordinator.claim(a, START + timedelta(seconds=1))
    # two workers racing past the "running elsewhere" check still cannot both start
    assert not await b.coordinator.claim(b, START + timedelta(seconds=2))
    assert not await ScheduleFire.objects.filter(fire_at=START + timedelta(seconds=2)).aexists()
    # a was SIGKILLed: its lease is not renewed and lapses, then b may run
    await Schedule.objects.filter(key="demo:tick").aupdate(
        running_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert await b.coordinator.claim(b, START + timedelta(seconds=2))
    row = await Schedule.objects.aget(key="demo:tick")
    assert row.running_owner == "worker-1"


async def test_run_now_fires_once_across_workers_even_when_paused_and_keeps_the_schedule(
    workers: Make,
) -> None:
    clock = FakeClock(START)
    sources = [workers(lambda: IntervalSource.every(hours=1, timezone="UTC", clock=clock)) for _ in range(3)]
    for source in sources:
        await source.open()
    requested = datetime.now(UTC).replace(microsecond=0)
    await Schedule.objects.filter(key="demo:tick").aupdate(paused=True, run_requested_at=requested)
    fired = [stamp for source in sources for stamp in await fire(source)]
    assert fired == [requested.isoformat()]
    row = await Schedule.objects.aget(key="demo:tick")
    assert row.run_requested_at is None
    assert (row.last_fire_at, row.next_fire_at) == (
        None,
        START + timedelta(hours=1),
    )  # the schedule goes on as before
