"""Cron arithmetic (pure) and CronSource ticks driven by a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from django_onestep import CronSource
from django_onestep.core.schedules.cron_engine import fire_times, parse_cron
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


# --- beyond onestep: croniter's L, W and # (docs/schedules.md) ----------------------


def days(expr: str, start: datetime, count: int) -> list[str]:
    return [fire[:10] for fire in fires(expr, start, count)]


def test_last_day_of_month() -> None:
    assert days("0 0 L * *", datetime(2026, 1, 15, tzinfo=UTC), 3) == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
    ]
    assert days("0 0 L 2 *", datetime(2027, 1, 1, tzinfo=UTC), 2) == ["2027-02-28", "2028-02-29"]
    assert days("0 0 1,L * *", datetime(2026, 1, 15, tzinfo=UTC), 3) == [
        "2026-01-31",
        "2026-02-01",
        "2026-02-28",
    ]


def test_nearest_weekday() -> None:
    # 15W: the 15th, or the weekday nearest it. 2026-02-15 is a Sunday, 2026-08-15 a Saturday.
    assert days("0 0 15W * *", datetime(2026, 2, 1, tzinfo=UTC), 2) == ["2026-02-16", "2026-03-16"]
    assert days("0 0 15W * *", datetime(2026, 8, 1, tzinfo=UTC), 1) == ["2026-08-14"]


def test_nth_and_last_weekday_of_month() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert days("0 9 * * 5#2", start, 3) == ["2026-01-09", "2026-02-13", "2026-03-13"]
    assert days("0 9 * * fri#2", start, 1) == ["2026-01-09"]
    assert days("0 0 * * 1#1,1#3", start, 4) == ["2026-01-05", "2026-01-19", "2026-02-02", "2026-02-16"]
    assert days("0 9 * * 5L", start, 3) == ["2026-01-30", "2026-02-27", "2026-03-27"]
    assert days("0 9 * * FriL", start, 1) == ["2026-01-30"]


def test_extensions_follow_the_day_or_rule() -> None:
    # The last day of the month, or any Monday (2026-01-31 is a Saturday).
    assert days("0 0 L * mon", datetime(2026, 1, 20, tzinfo=UTC), 3) == [
        "2026-01-26",
        "2026-01-31",
        "2026-02-02",
    ]


def test_extensions_follow_the_dst_rules() -> None:
    # The second Sunday of March 2026 is New York's spring-forward day: 02:00 is missing.
    assert fires("0 2 * * 0#2", datetime(2026, 3, 1, tzinfo=UTC), 2, tz=NY) == [
        "2026-03-08T03:00:00-04:00",
        "2026-04-12T02:00:00-04:00",
    ]


def test_weekday_ranges_may_end_at_seven() -> None:
    # onestep rejects "5-7" and reads "0-7" as Sunday only; as in classic cron, 7 is
    # Sunday at either end of a range.
    assert weekdays("0 0 * * 5-7") == [0, 5, 6]
    assert weekdays("0 0 * * mon-7") == [0, 1, 2, 3, 4, 5, 6]
    assert weekdays("0 0 * * 0-7") == [0, 1, 2, 3, 4, 5, 6]
    assert weekdays("0 0 * * 7-2") == [0, 1, 2]  # onestep: 7 starts as Sunday (0)
    assert weekdays("0 0 * * 7-7") == [0]
    assert weekdays("0 0 * * 7-0") == [0]


def test_equal_range_is_one_value() -> None:
    # croniter alone reads "5-5" as the whole field; onestep (and we) as 5.
    assert fires("5-5 0 * * *", datetime(2026, 1, 1, tzinfo=UTC), 2) == [
        "2026-01-01T00:05:00+00:00",
        "2026-01-02T00:05:00+00:00",
    ]
    assert days("0 0 1 jan-JAN *", datetime(2026, 1, 2, tzinfo=UTC), 1) == ["2027-01-01"]


def test_or_rule_is_decided_on_the_text_as_in_onestep() -> None:
    # Neither day field is literally "*", so a day matches if either does: "*/1" matches
    # every day. croniter alone would treat "*/1" as "*" and keep only even weekdays.
    assert weekdays("0 0 */1 * */2") == [0, 1, 2, 3, 4, 5, 6]


def test_started_in_the_repeated_hour_fires_at_the_second_pass() -> None:
    # 01:30 comes twice in New York on 2026-11-01. A worker started at 01:10 EST, after
    # the first 01:30 has gone by, fires at the second, as onestep does.
    got = fires("30 1 * * *", datetime(2026, 11, 1, 6, 10, tzinfo=UTC), 2, tz=NY)
    assert got == ["2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6; seconds"),
        ("0 0 0 * * * 2030", "got 7; seconds and year fields are not supported"),
        ("@reboot", "@reboot is not supported (a worker has no boot event): use immediate=True"),
        ("0 0 ? * *", "day-of-month '?' is not supported: write '*'"),
        ("H * * * *", "minute value 'H' is not a number or a known name"),
        ("0 0 1,15W * *", "day-of-month '15W' must be the field's only item"),
        ("0 0 * * 1#6", "day-of-week '1#6': the week after '#' must be 1-5"),
        ("0 0 * * 1#2,5", "day-of-week '1#2,5' mixes '#'/'L' items with plain weekdays"),
        ("0 0 * * sat-sun", "day-of-week range 'sat-sun' runs backwards"),
        ("0 0 * L *", "month value 'L' is not a number or a known name"),
    ],
)
def test_refused_croniter_features_name_the_field(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid cron expression") as info:
        CronSource(expr)
    assert message in str(info.value)


def test_fire_times_validates_when_called_and_yields_utc_instants() -> None:
    with pytest.raises(ValueError, match="minute value '61' is outside 0-59"):
        fire_times("61 * * * *", UTC, datetime(2026, 1, 1, tzinfo=UTC))  # not at first next()
    got = list(islice(fire_times("30 2 * * *", NY, datetime(2026, 3, 7, 12, tzinfo=UTC)), 2))
    assert got == [datetime(2026, 3, 8, 7, 0, tzinfo=UTC), datetime(2026, 3, 9, 6, 30, tzinfo=UTC)]
    assert all(instant.tzinfo is UTC for instant in got)


def test_upcoming_fire_times_are_written_in_the_schedules_zone_across_a_dst_jump() -> None:
    source = CronSource(
        "30 2 * * *", timezone="Europe/Berlin", clock=lambda: datetime(2026, 3, 27, 12, tzinfo=UTC)
    )
    assert [tick.isoformat() for tick in source.upcoming_fire_times(3)] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist that night: once, at the jump
        "2026-03-30T02:30:00+02:00",
    ]
