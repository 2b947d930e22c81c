"""What a schedule does with its coordinator's answers, with a fake clock and no I/O.

``misfire``: a coordinator restores the persisted next fire time; when it has gone by,
the policy decides: ``skip`` none, ``run_once`` the latest, ``catch_up`` the latest
``max_catch_up``. Also the optional hooks: ``record_next_fire``, ``requested_runs``
("run now") and ``close``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from django_onestep import CronSource, IntervalSource
from django_onestep.core.schedules.schedule import ScheduleSource
from tests.core.schedule_helpers import FakeClock

NOW = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)


class Resume:
    """A coordinator whose persisted next fire is ``next_fire_at``; claims everything."""

    def __init__(self, next_fire_at: datetime | None) -> None:
        self.next_fire_at = next_fire_at
        self.closed = False
        self.moved_to: list[datetime] = []

    async def initial_fire_at(self, source: Any, now: datetime) -> datetime | None:
        return self.next_fire_at

    async def claim(self, source: Any, scheduled_at: datetime) -> bool:
        return True

    async def record_fire(self, source: Any, scheduled_at: datetime) -> None:
        return None

    async def record_next_fire(self, source: Any, next_fire_at: datetime) -> None:
        self.moved_to.append(next_fire_at)

    async def close(self) -> None:
        self.closed = True


async def drain(source: ScheduleSource, limit: int = 10) -> list[str]:
    fired: list[str] = []
    for _ in range(20):
        batch = await source.fetch(limit)
        for delivery in batch:
            fired.append(delivery.envelope.meta["scheduled_at"])
            await delivery.ack()
    return fired


def cron(misfire: str, **options: Any) -> CronSource:
    source = CronSource("* * * * *", timezone="UTC", misfire=misfire, clock=FakeClock(NOW), **options)
    # down since before 11:57: the ticks 11:57, 11:58, 11:59 and 12:00 were missed
    source.coordinator = Resume(datetime(2026, 1, 5, 11, 57, tzinfo=UTC))
    return source


async def test_skip_fires_none_of_the_missed_ticks_and_resumes_on_the_next() -> None:
    source = cron("skip")
    assert await drain(source) == []
    assert source.next_fire_at == datetime(2026, 1, 5, 12, 1, tzinfo=UTC)
    # the persisted next fire moves on too, so the next restart does not see them again
    assert source.coordinator.moved_to == [datetime(2026, 1, 5, 12, 1, tzinfo=UTC)]  # type: ignore[attr-defined]


async def test_run_once_fires_only_the_latest_missed_tick() -> None:
    source = cron("run_once")
    assert await drain(source) == ["2026-01-05T12:00:00+00:00"]
    assert source.next_fire_at == datetime(2026, 1, 5, 12, 1, tzinfo=UTC)
    assert source.coordinator.moved_to == []  # type: ignore[attr-defined]  # record_fire moves it


async def test_catch_up_fires_every_missed_tick_in_order() -> None:
    source = cron("catch_up")
    assert await drain(source, limit=1) == [
        f"2026-01-05T{t}:00+00:00" for t in ("11:57", "11:58", "11:59", "12:00")
    ]


async def test_catch_up_is_capped_to_the_latest_max_catch_up() -> None:
    source = cron("catch_up", max_catch_up=2)
    assert await drain(source) == ["2026-01-05T11:59:00+00:00", "2026-01-05T12:00:00+00:00"]


async def test_catch_up_with_overlap_skip_runs_the_missed_ticks_one_at_a_time() -> None:
    source = cron("catch_up", overlap="skip")
    first = await source.fetch(10)
    assert len(first) == 1
    assert await source.fetch(10) == []  # the first is still in flight
    await first[0].ack()
    assert len(await source.fetch(10)) == 1


async def test_interval_jumps_over_a_long_outage_on_its_own_grid() -> None:
    clock = FakeClock(NOW)
    source = IntervalSource.every(seconds=1, timezone="UTC", misfire="catch_up", max_catch_up=3, clock=clock)
    source.coordinator = Resume(NOW - timedelta(days=7, milliseconds=250))
    assert await drain(source) == [
        (NOW - timedelta(milliseconds=250) - timedelta(seconds=n)).isoformat() for n in (2, 1, 0)
    ]
    assert source.next_fire_at == NOW + timedelta(milliseconds=750)


async def test_a_restored_future_fire_time_is_kept_and_immediate_is_not_repeated() -> None:
    clock = FakeClock(NOW)
    source = IntervalSource.every(seconds=60, timezone="UTC", immediate=True, clock=clock)
    source.coordinator = Resume(NOW + timedelta(seconds=5))
    assert await drain(source) == []  # the schedule has a history: no start-up tick
    clock.advance(seconds=5)
    assert await drain(source) == [(NOW + timedelta(seconds=5)).isoformat()]


async def test_no_persisted_fire_time_keeps_onesteps_start() -> None:
    clock = FakeClock(NOW)
    source = IntervalSource.every(seconds=60, timezone="UTC", immediate=True, misfire="catch_up", clock=clock)
    source.coordinator = Resume(None)
    assert await drain(source) == [NOW.isoformat()]
    assert source.next_fire_at == NOW + timedelta(seconds=60)


async def test_close_closes_a_coordinator_that_can_be_closed() -> None:
    source = cron("skip")
    await source.open()
    await source.close()
    assert source.coordinator.closed  # type: ignore[attr-defined]


def test_bad_misfire_options_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match=r"^misfire must be one of skip, run_once, catch_up; got 'later'$"):
        CronSource("* * * * *", misfire="later")
    with pytest.raises(ValueError, match=r"^max_catch_up: must be >= 1, got 0$"):
        IntervalSource.every(seconds=1, max_catch_up=0)


async def test_requested_runs_fire_between_ticks_through_the_claim() -> None:
    clock = FakeClock(NOW)
    source = IntervalSource.every(hours=1, timezone="UTC", clock=clock)
    claimed: list[datetime] = []

    class RunNow(Resume):
        pending = [NOW]

        async def requested_runs(self, source: Any, now: datetime) -> list[datetime]:
            asked, self.pending = self.pending, []
            return asked

        async def claim(self, source: Any, scheduled_at: datetime) -> bool:
            claimed.append(scheduled_at)
            return True

    source.coordinator = RunNow(None)
    assert await drain(source) == [NOW.isoformat()]
    assert claimed == [NOW]
    assert source.next_fire_at == NOW + timedelta(hours=1)  # the schedule itself is unchanged
