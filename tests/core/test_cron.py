"""Cron arithmetic (pure) and CronSource ticks driven by a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from django_onestep import CronSource
from django_onestep.core.schedules.cron_engine import parse_cron
from tests.core.schedule_helpers import FakeClock

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def fires(expr: str, start: datetime, count: int, tz=UTC) -> list[str]:
    parsed = parse_cron(expr)
    out: list[str] = []
    moment = start
    for _ in range(count):
        nxt = parsed.next_after(moment, tz)
        assert nxt is not None
        out.append(nxt.astimezone(tz).isoformat())
        moment = nxt
    return out


def weekdays(expr: str) -> list[int]:
    """The cron weekdays (0 = Sunday) of ``expr``'s fires over the week from 2026-01-04."""
    start = datetime(2026, 1, 3, 23, 59, tzinfo=UTC)  # just before Sunday 2026-01-04
    stop = datetime(2026, 1, 11, tzinfo=UTC)
    days = set()
    for instant in parse_cron(expr).fire_times(start, UTC):
        if instant >= stop:
            break
        days.add((instant.weekday() + 1) % 7)
    return sorted(days)


def test_every_five_minutes() -> None:
    assert fires("*/5 * * * *", datetime(2026, 1, 1, 10, 2, tzinfo=UTC), 3) == [
        "2026-01-01T10:05:00+00:00",
        "2026-01-01T10:10:00+00:00",
        "2026-01-01T10:15:00+00:00",
    ]


def test_names_ranges_steps_and_lists() -> None:
    # 09:00 and 17:30 on Mon-Fri in January only; 2026-01-02 is a Friday.
    assert fires("0,30 9-17/8 * jan MON-fri", datetime(2026, 1, 2, 9, 10, tzinfo=UTC), 4) == [
        "2026-01-02T09:30:00+00:00",
        "2026-01-02T17:00:00+00:00",
        "2026-01-02T17:30:00+00:00",
        "2026-01-05T09:00:00+00:00",
    ]


def test_weekday_seven_is_sunday_and_start_step() -> None:
    # 2026-01-04 is a Sunday. "10/20" means 10, 30, 50.
    assert fires("10/20 0 * * 7", datetime(2026, 1, 1, tzinfo=UTC), 4) == [
        "2026-01-04T00:10:00+00:00",
        "2026-01-04T00:30:00+00:00",
        "2026-01-04T00:50:00+00:00",
        "2026-01-11T00:10:00+00:00",
    ]


def test_weekday_step_from_a_start_stops_at_saturday() -> None:
    # "3/4" is Wednesday only, as in onestep: 7 spells Sunday but is not an open end.
    assert weekdays("0 0 * * 3/4") == [3]
    assert weekdays("0 0 * * 5/2") == [5]
    assert weekdays("0 0 * * 1-7/2") == [0, 1, 3, 5]  # explicit 7
    # 2026-01-07 is a Wednesday; the Sunday between is not a fire.
    assert fires("0 0 * * 3/4", datetime(2026, 1, 7, 1, tzinfo=UTC), 2) == [
        "2026-01-14T00:00:00+00:00",
        "2026-01-21T00:00:00+00:00",
    ]


def test_day_of_month_or_day_of_week_when_both_restricted() -> None:
    # Classic cron OR rule (as onestep): the 15th, or any Monday.
    assert fires("0 0 15 * mon", datetime(2026, 1, 10, tzinfo=UTC), 3) == [
        "2026-01-12T00:00:00+00:00",
        "2026-01-15T00:00:00+00:00",
        "2026-01-19T00:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@hourly", "2026-03-10T11:00:00+00:00"),
        ("@daily", "2026-03-11T00:00:00+00:00"),
        ("@weekly", "2026-03-15T00:00:00+00:00"),
        ("@monthly", "2026-04-01T00:00:00+00:00"),
        ("@yearly", "2027-01-01T00:00:00+00:00"),
    ],
)
def test_aliases(alias: str, expected: str) -> None:
    assert fires(alias, datetime(2026, 3, 10, 10, 15, tzinfo=UTC), 1) == [expected]


def test_leap_day_found_years_ahead() -> None:
    assert fires("0 0 29 feb *", datetime(2097, 1, 1, tzinfo=UTC), 1) == ["2104-02-29T00:00:00+00:00"]


def test_timezone_wall_clock() -> None:
    # 09:00 in Shanghai is 01:00 UTC.
    got = parse_cron("0 9 * * *").next_after(datetime(2026, 1, 1, tzinfo=UTC), ZoneInfo("Asia/Shanghai"))
    assert got == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)


def test_spring_forward_missing_time_fires_once_when_clocks_jump() -> None:
    # 2026-03-08 02:30 does not exist in New York: the daily job runs at 03:00 EDT
    # that day (07:00 UTC) and at 02:30 as usual on the days around it.
    assert fires("30 2 * * *", datetime(2026, 3, 7, 12, tzinfo=UTC), 3, tz=NY) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]


def test_spring_forward_gap_times_collapse_into_one_fire() -> None:
    got = fires("*/30 * * * *", datetime(2026, 3, 8, 6, 0, tzinfo=UTC), 4, tz=NY)
    # 01:30 EST, then 02:00/02:30 (missing) collapse into 03:00 EDT, then 03:30.
    assert got == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-08T04:00:00-04:00",
    ]


def test_fall_back_fixed_time_fires_once() -> None:
    # 2026-10-25 02:30 happens twice in Berlin: fired at the first pass only.
    got = fires("30 2 * * *", datetime(2026, 10, 24, 12, tzinfo=UTC), 2, tz=BERLIN)
    assert got == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]


def test_fall_back_hourly_wildcard_keeps_cadence() -> None:
    got = fires("0,30 * * * *", datetime(2026, 11, 1, 5, 0, tzinfo=UTC), 4, tz=NY)
    assert got == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "invalid cron expression '* * * *': expected 5 fields"),
        ("60 * * * *", "invalid cron expression '60 * * * *': minute value '60' is outside 0-59"),
        ("* * * 13 *", "month value '13' is outside 1-12"),
        ("* * * * funday", "day-of-week value 'funday' is not a number or a known name"),
        ("*/0 * * * *", "minute step '0' must be a positive integer"),
        ("5-1 * * * *", "minute range '5-1' runs backwards"),
        ("0 0 30 feb *", "it never matches a real date"),
        ("@fortnightly", "unknown alias"),
        ("", "it must be a non-empty string"),
    ],
)
def test_bad_expressions_raise_value_error_naming_it(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid cron expression") as info:
        CronSource(expr)
    assert message in str(info.value)


def test_bad_timezone_and_overlap() -> None:
    with pytest.raises(ValueError, match="timezone 'Mars/Olympus' is not a known IANA timezone"):
        CronSource("* * * * *", timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="overlap must be one of allow, skip, queue; got 'later'"):
        CronSource("* * * * *", overlap="later")


def test_machine_zone_keeps_its_dst_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # timezone=None is the machine's zone: with its rules, not today's fixed offset, or
    # a 09:00 job fires at 10:00 after the spring change until the worker restarts.
    monkeypatch.setenv("TZ", "Europe/Berlin")
    source = CronSource("0 9 * * *")
    assert (source.timezone, source.timezone_name) == (BERLIN, "Europe/Berlin")
    first = source.initial_fire_at(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    second = source.next_fire_after(first)
    assert [first.isoformat(), second.isoformat()] == [
        "2026-03-29T07:00:00+00:00",  # 09:00 CEST, the morning after the change
        "2026-03-30T07:00:00+00:00",
    ]
    monkeypatch.setenv("TZ", "UTC")
    assert CronSource("0 9 * * *").timezone is UTC


async def test_cron_source_fires_each_minute_with_scheduled_at() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 11, 59, 30, tzinfo=UTC))
    source = CronSource("0 * * * *", timezone="Asia/Shanghai", overlap="skip", clock=clock)
    assert source.name == "cron:0 * * * *"
    assert source.supports_manual_run is True
    await source.open()
    assert await source.fetch(10) == []
    clock.advance(seconds=30)
    (tick,) = await source.fetch(10)
    assert tick.envelope.meta == {
        "source": "cron:0 * * * *",
        "scheduled_at": "2026-01-05T20:00:00+08:00",
        "sequence": 0,
    }
    assert tick.envelope.attempts == 0
    # skip: the next hour comes due while the tick is in flight -> dropped.
    clock.advance(hours=1)
    assert await source.fetch(10) == []
    await tick.ack()
    clock.advance(hours=1)
    (second,) = await source.fetch(10)
    assert second.envelope.meta["scheduled_at"] == "2026-01-05T22:00:00+08:00"


async def test_cron_starting_exactly_on_a_match_fires_that_minute() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC))
    source = CronSource("@hourly", timezone="UTC", clock=clock)
    (tick,) = await source.fetch(1)
    assert tick.envelope.meta["scheduled_at"] == "2026-01-05T12:00:00+00:00"


async def test_cron_source_dst_daily_job_via_fake_clock() -> None:
    clock = FakeClock(datetime(2026, 3, 7, 12, tzinfo=UTC))
    source = CronSource("30 2 * * *", timezone="America/New_York", clock=clock)
    seen: list[str] = []
    for _ in range(3 * 24):  # three days, an hour at a time
        clock.advance(hours=1)
        for delivery in await source.fetch(10):
            seen.append(delivery.envelope.meta["scheduled_at"])
            await delivery.ack()
    assert seen == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]
