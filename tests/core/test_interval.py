"""IntervalSource ticks, overlap policies and retries, driven by a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from django_onestep import IntervalSource
from tests.core.schedule_helpers import FakeClock

START = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


def stamps(deliveries) -> list[str]:
    return [d.envelope.meta["scheduled_at"] for d in deliveries]


@pytest.mark.parametrize("bad", [0, -1, timedelta(0), timedelta(seconds=-5)])
def test_non_positive_interval_is_rejected(bad) -> None:
    with pytest.raises(ValueError, match="interval must be greater than zero"):
        IntervalSource(bad)


def test_every_validates_and_names() -> None:
    with pytest.raises(ValueError, match=r"interval must be greater than zero; got 0\.0 s"):
        IntervalSource.every()
    with pytest.raises(ValueError, match="overlap must be one of allow, skip, queue; got 'sometimes'"):
        IntervalSource.every(seconds=1, overlap="sometimes")
    with pytest.raises(ValueError, match=r"^minutes: must be a number, got '5'$"):
        IntervalSource.every(minutes="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^seconds: must be a finite number, got nan$"):
        IntervalSource.every(seconds=float("nan"))
    with pytest.raises(ValueError, match=r"^hours: must be a finite number, got inf$"):
        IntervalSource.every(hours=float("inf"))
    with pytest.raises(ValueError, match=r"^interval must be a timedelta or a number of seconds; got inf$"):
        IntervalSource(float("inf"))
    with pytest.raises(ValueError, match=r"^poll_interval_s: must be a finite number, got nan$"):
        IntervalSource.every(seconds=1, poll_interval_s=float("nan"))
    with pytest.raises(ValueError, match=r"^max_queued_runs: must be >= 1, got 0$"):
        IntervalSource.every(seconds=1, max_queued_runs=0)
    source = IntervalSource.every(days=1, hours=1, minutes=1, seconds=1)
    assert source.name == "interval:90061s"
    assert source.interval_s == 90061.0
    assert source.poll_interval_s == 1.0
    assert IntervalSource(0.05).poll_interval_s == pytest.approx(0.01)


async def test_first_tick_after_one_interval_then_every_interval() -> None:
    clock = FakeClock(START)
    source = IntervalSource.every(minutes=5, timezone="UTC", clock=clock, payload={"job": "x"})
    await source.open()
    assert source.next_fire_at == START + timedelta(minutes=5)
    assert await source.fetch(10) == []
    clock.advance(minutes=5)
    (tick,) = await source.fetch(10)
    assert tick.payload == {"job": "x"}
    assert tick.envelope.meta == {
        "source": "interval:300s",
        "scheduled_at": "2026-01-05T12:05:00+00:00",
        "sequence": 0,
    }
    await tick.ack()
    assert source.last_fire_at == START + timedelta(minutes=5)
    clock.advance(minutes=4, seconds=59)
    assert await source.fetch(10) == []
    clock.advance(seconds=1)
    assert stamps(await source.fetch(10)) == ["2026-01-05T12:10:00+00:00"]


async def test_immediate_fires_at_start_and_payload_is_copied_or_called() -> None:
    clock = FakeClock(START)
    shared = {"n": [1]}
    source = IntervalSource.every(
        hours=1, immediate=True, payload=shared, timezone="Asia/Shanghai", clock=clock
    )
    (tick,) = await source.fetch(1)
    assert tick.envelope.meta["scheduled_at"] == "2026-01-05T20:00:00+08:00"
    tick.payload["n"].append(2)
    assert shared == {"n": [1]}  # each tick gets its own deep copy
    counter = iter(range(100))
    called = IntervalSource.every(seconds=1, immediate=True, payload=lambda: next(counter), clock=clock)
    assert [d.payload for d in await called.fetch(1)] == [0]


async def test_overlap_allow_delivers_every_due_tick_up_to_limit() -> None:
    clock = FakeClock(START)
    source = IntervalSource.every(minutes=1, timezone="UTC", clock=clock, overlap="allow")
    await source.open()
    clock.advance(minutes=3)
    first = await source.fetch(2)
    assert stamps(first) == ["2026-01-05T12:01:00+00:00", "2026-01-05T12:02:00+00:00"]
    # Beyond the limit, the remaining due tick is dropped (onestep behaviour).
    assert await source.fetch(2) == []
    assert source.inflight_count == 2


async def test_overlap_skip_drops_ticks_while_in_flight_and_runs_latest() -> None:
    clock = FakeClock(START)
    source = IntervalSource.every(minutes=1, timezone="UTC", clock=clock, overlap="skip")
    await source.open()
    clock.advance(minutes=1)
    (running,) = await source.fetch(10)
    clock.advance(minutes=2)
    assert await source.fetch(10) == []  # 12:02 and 12:03 dropped while running
    await running.ack()
    clock.advance(minutes=3)  # 12:04 .. 12:06 due; only the latest runs
    assert stamps(await source.fetch(10)) == ["2026-01-05T12:06:00+00:00"]


async def test_overlap_queue_serialises_missed_ticks() -> None:
    clock = FakeClock(START)
    source = IntervalSource.every(minutes=1, timezone="UTC", clock=clock, overlap="queue", max_queued_runs=2)
    await source.open()
    clock.advance(minutes=1)
    (running,) = await source.fetch(10)
    clock.advance(minutes=3)  # 12:02, 12:03, 12:04 due; capacity 2 keeps the newest
    assert await source.fetch(10) == []
    assert source.queued_run_count == 2
    assert await source.fetch(10) == []  # still in flight
    await running.fail(RuntimeError("boom"))  # fail ends "in flight" too
    (second,) = await source.fetch(10)
    assert stamps([second]) == ["2026-01-05T12:03:00+00:00"]
    assert await source.fetch(10) == []
    await second.ack()
    assert stamps(await source.fetch(10)) == ["2026-01-05T12:04:00+00:00"]


async def test_retry_is_parked_until_due_with_attempts_incremented() -> None:
    clock = FakeClock(START)
    source = IntervalSource.every(hours=1, timezone="UTC", clock=clock, immediate=True, overlap="skip")
    (tick,) = await source.fetch(1)
    await tick.retry(delay_s=30)
    assert source.inflight_count == 0
    assert await source.fetch(1) == []
    clock.advance(seconds=30)
    (again,) = await source.fetch(1)
    assert again.envelope.attempts == 1
    assert again.envelope.meta == tick.envelope.meta
    await again.ack()
    await again.ack()  # settling twice is harmless
    assert source.inflight_count == 0


async def test_resume_after_pause_drops_missed_ticks() -> None:
    clock = FakeClock(START)
    source = IntervalSource.every(minutes=1, timezone="UTC", clock=clock, overlap="queue")
    await source.open()
    clock.advance(minutes=10)
    await source.resume_after_pause()
    assert await source.fetch(10) == []
    assert source.next_fire_at == START + timedelta(minutes=11)


async def test_naive_clock_is_read_in_the_source_timezone() -> None:
    source = IntervalSource.every(
        seconds=10, immediate=True, timezone="Europe/Paris", clock=lambda: datetime(2026, 7, 1, 9, 0)
    )
    (tick,) = await source.fetch(1)
    assert tick.envelope.meta["scheduled_at"] == "2026-07-01T09:00:00+02:00"


async def test_interval_is_elapsed_time_across_dst() -> None:
    # Berlin falls back at 03:00 CEST on 2026-10-25: 1 h elapsed shows 02:00+01:00.
    clock = FakeClock(datetime(2026, 10, 25, 0, 0, tzinfo=UTC))  # 02:00 CEST
    source = IntervalSource.every(hours=1, timezone="Europe/Berlin", clock=clock)
    await source.open()
    clock.advance(hours=2)
    got = await source.fetch(10)
    assert stamps(got) == ["2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"]


class RecordingCoordinator:
    """What a Django leader lease would plug in: claim each tick, remember the last."""

    def __init__(self, claimed: set[str], resume_at: datetime | None = None) -> None:
        self.claimed = claimed
        self.resume_at = resume_at
        self.recorded: list[str] = []

    async def initial_fire_at(self, source, now):
        return self.resume_at

    async def claim(self, source, scheduled_at):
        key = scheduled_at.isoformat()
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    async def record_fire(self, source, scheduled_at):
        self.recorded.append(scheduled_at.isoformat())


async def test_coordinator_makes_each_tick_fire_once_across_sources() -> None:
    clock = FakeClock(START)
    claimed: set[str] = set()
    workers = [IntervalSource.every(minutes=1, timezone="UTC", clock=clock) for _ in range(3)]
    coordinators = [RecordingCoordinator(claimed) for _ in workers]
    for worker, coordinator in zip(workers, coordinators, strict=True):
        worker.coordinator = coordinator
        await worker.open()
    fired: list[str] = []
    for _ in range(5):
        clock.advance(minutes=1)
        for worker in workers:
            for delivery in await worker.fetch(10):
                fired.append(delivery.envelope.meta["scheduled_at"])
                await delivery.ack()
    assert fired == [f"2026-01-05T12:0{m}:00+00:00" for m in range(1, 6)]
    assert sorted(r for c in coordinators for r in c.recorded) == sorted(
        (START + timedelta(minutes=m)).isoformat() for m in range(1, 6)
    )


async def test_coordinator_can_resume_from_a_persisted_fire_time() -> None:
    clock = FakeClock(START)
    source = IntervalSource.every(hours=1, timezone="UTC", clock=clock)
    source.coordinator = RecordingCoordinator(set(), resume_at=START - timedelta(minutes=1))
    assert stamps(await source.fetch(1)) == ["2026-01-05T11:59:00+00:00"]
