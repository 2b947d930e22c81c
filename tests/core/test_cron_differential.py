"""Our cron engine against onestep 1.15's own cron code, on thousands of expressions.

Seeded random expressions (single values, lists, ranges, steps, names, ``*``, the
aliases) start just before or during the DST changes of zones with northern, southern,
45-minute-offset, 30-minute-DST and no DST at all. For each, the next fires from our
engine must be the instants at which onestep's ``CronSource`` fires:

* onestep's walk finds the wall times (its own field parsing and ``matches``), and a
  wall time fires at the first instant the zone's clock has reached it, decided with
  onestep's own comparison (``next_fire_at <= now``, both in the zone);
* two documented differences are allowed and nothing else: several fires at the same
  instant (missing wall times at a spring-forward jump) are one fire for us, and when
  the hour field is ``*`` we also fire in the second pass of a repeated hour.

Expressions onestep rejects must be rejected too, except the documented extensions,
which ``docs/schedules.md`` must list.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import chain, islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.schedules.cron_engine import CronSchedule, parse_cron
from tests.needs import require_module

onestep_schedule = require_module("onestep.connectors.schedule", extras="bench")

SEED = 20260307
VALID_CASES = 2500
INVALID_CASES = 700
FIRES = 6
ZONES = (
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",  # southern: clocks go back in April, forward in October
    "America/Santiago",  # changes at midnight
    "Asia/Kolkata",  # no DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "Australia/Lord_Howe",  # a 30-minute DST
)
MINUTE = timedelta(minutes=1)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "schedules.md"


# --- the zones' DST changes ---------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    tz: ZoneInfo
    changes: tuple[datetime, ...]  # UTC instants where the offset changes (2026-2027)
    max_offset: timedelta


def _zone(name: str) -> Zone:
    tz = ZoneInfo(name)
    changes: list[datetime] = []
    offsets: set[timedelta] = set()
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    previous = moment.astimezone(tz).utcoffset()
    while moment < datetime(2028, 1, 1, tzinfo=UTC):
        moment += timedelta(hours=1)
        offset = moment.astimezone(tz).utcoffset()
        assert offset is not None and previous is not None
        offsets.add(offset)
        if offset != previous:
            low, high = moment - timedelta(hours=1), moment
            while high - low > MINUTE:
                middle = low + (high - low) / 2
                low, high = (middle, high) if middle.astimezone(tz).utcoffset() == previous else (low, middle)
            changes.append(high.replace(second=0, microsecond=0))
        previous = offset
    return Zone(tz, tuple(changes), max(offsets))


# --- onestep's cron code, driven as its CronSource drives it -------------------------


def onestep_parse(expr: str, tz: tzinfo) -> Any:
    try:
        return onestep_schedule.CronSchedule(expr, timezone=tz)
    except ValueError:
        return None


def onestep_walls(schedule: Any, tz: tzinfo, after: datetime) -> Iterator[datetime]:
    """Every wall time after naive ``after`` that onestep's ``matches`` accepts, in order.

    onestep's own ``next_after`` tries every minute for up to two years; this visits
    only the minutes of its hour and minute fields, a day at a time, and asks onestep's
    ``matches`` about each day, so sparse expressions stay fast.
    """
    hours = sorted(schedule.hour.values)
    minutes = sorted(schedule.minute.values)
    day = after.date()
    for _ in range(366 * 30):
        first = datetime(day.year, day.month, day.day, hours[0], minutes[0], tzinfo=tz)
        if schedule.matches(first):  # same tzinfo: read as a wall time
            for hour in hours:
                for minute in minutes:
                    wall = datetime(day.year, day.month, day.day, hour, minute)
                    if wall > after:
                        yield wall
        day += timedelta(days=1)


def due_at(wall: datetime, lower: datetime, zone: Zone) -> datetime:
    """The first instant from ``lower`` at which onestep fires ``wall``.

    onestep keeps the pending fire as an aware wall time in the zone and fires it once
    ``next_fire_at <= now`` with ``now`` in the same zone: Python compares those as
    wall times. Offsets are whole minutes, so the answer is on a minute (or ``lower``).
    """
    pending = wall.replace(tzinfo=zone.tz)
    if pending <= lower.astimezone(zone.tz):
        return lower
    probe = max(
        lower.replace(second=0, microsecond=0) + MINUTE,
        wall.replace(tzinfo=UTC) - zone.max_offset,
    )
    while not pending <= probe.astimezone(zone.tz):
        probe += MINUTE
    return probe


def onestep_fires(schedule: Any, zone: Zone, start: datetime, horizon: datetime) -> set[datetime]:
    local = start.astimezone(zone.tz)
    wall = local.replace(tzinfo=None, fold=0)
    on_minute = local.second == 0 and local.microsecond == 0
    first = [wall] if on_minute and schedule.matches(local) else []
    fires: set[datetime] = set()
    lower = start
    for pending in chain(first, onestep_walls(schedule, zone.tz, wall)):
        lower = due_at(pending, lower, zone)
        if lower > horizon:
            return fires
        fires.add(lower)
    return fires


def second_pass_fires(schedule: Any, zone: Zone, start: datetime, horizon: datetime) -> set[datetime]:
    """Our extension: with hour ``*``, the repeated hour's matching walls fire again."""
    if set(schedule.hour.values) != set(range(24)):
        return set()
    fires = set()
    local_start = start.astimezone(zone.tz).replace(tzinfo=None)
    last_wall = horizon.astimezone(zone.tz).replace(tzinfo=None) + timedelta(hours=3)
    for wall in onestep_walls(schedule, zone.tz, local_start - timedelta(hours=3)):
        if wall > last_wall:
            break
        first = wall.replace(tzinfo=zone.tz, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=zone.tz, fold=1).astimezone(UTC)
        repeated = first != second and first.astimezone(zone.tz).replace(tzinfo=None) == wall
        if repeated and start <= second <= horizon:
            fires.add(second)
    return fires


def our_fires(schedule: CronSchedule, zone: Zone, start: datetime) -> list[datetime]:
    first = schedule.first_at_or_after(start, zone.tz)
    assert first is not None
    return [first, *islice(schedule.fire_times(first, zone.tz), FIRES - 1)]


# --- expressions -------------------------------------------------------------------

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _name(rng: random.Random, names: tuple[str, ...], value: int, first: int) -> str:
    text = names[value - first]
    return rng.choice((text, text.upper(), text.capitalize()))


def _value(rng: random.Random, field: int, value: int) -> str:
    if field == 3 and rng.random() < 0.4:
        return _name(rng, MONTHS, value, 1)
    if field == 4 and value < 7 and rng.random() < 0.4:
        return _name(rng, WEEKDAYS, value, 0)
    return str(value)


def _item(rng: random.Random, field: int, low: int, high: int, near: list[int]) -> str:
    def pick() -> int:
        return rng.choice(near) if near and rng.random() < 0.6 else rng.randint(low, high)

    shape = rng.random()
    if shape < 0.4:
        return _value(rng, field, pick())
    if shape < 0.7:
        start = pick()
        # a weekday range may start at 7 (Sunday) but not end there: onestep reads
        # "x-7" differently (see the documented differences below)
        if field == 4:
            end = rng.randint(0 if start == 7 else start, 6)
        else:
            end = rng.randint(start, high)
        text = f"{_value(rng, field, start)}-{_value(rng, field, end)}"
        if rng.random() < 0.4:
            text += f"/{rng.randint(1, 4)}"
        return text
    if shape < 0.85:
        return f"*/{rng.choice((1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 61))}"
    return f"{_value(rng, field, pick())}/{rng.randint(1, 20)}"


def _field(rng: random.Random, field: int, star: float, near: list[int]) -> str:
    low, high = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))[field]
    if rng.random() < star:
        return "*"
    return ",".join(_item(rng, field, low, high, near) for _ in range(rng.choice((1, 1, 2, 3))))


def valid_expression(rng: random.Random, start_local: datetime) -> str:
    if rng.random() < 0.05:
        return rng.choice(("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@DAILY"))
    # Values near the start's wall time keep the fires around the DST change.
    near_hours = [(start_local.hour + shift) % 24 for shift in range(-1, 4)]
    near_day = [start_local.day, (start_local.day % 28) + 1]
    return " ".join(
        (
            _field(rng, 0, 0.2, []),
            _field(rng, 1, 0.35, near_hours),
            _field(rng, 2, 0.75, near_day),
            _field(rng, 3, 0.8, [start_local.month]),
            _field(rng, 4, 0.75, [(start_local.isoweekday() % 7)]),
        )
    )


BAD_ITEMS = {
    0: (
        "60",
        "-1",
        "5-1",
        "*/0",
        "1,,2",
        "jan",
        "mon",
        "L",
        "H",
        "R",
        "?",
        "1-",
        "/5",
        "*/",
        "5/0",
        "1#2",
        "a",
    ),
    1: ("24", "23-2", "*/0", "L", "H", "?", "1-2-3", "2W", "x"),
    2: ("0", "32", "20-10", "*/0", "mon", "?", "LW", "L-1", "1#2", "15W,1"),
    3: ("0", "13", "dec-jan", "*/0", "funuary", "?", "L", "mon"),
    4: ("8", "sat-sun", "5-1", "*/0", "funday", "?", "jan", "1#0", "1#6", "1#2,5", "L"),
}
BAD_WHOLE = ("", "* * * *", "* * * * * *", "0 0 0 * * * 2030", "@reboot", "@every_5m", "@fortnightly")


def invalid_expression(rng: random.Random, start_local: datetime) -> str:
    if rng.random() < 0.1:
        return rng.choice(BAD_WHOLE)
    fields = valid_expression(rng, start_local).split()
    if len(fields) != 5:  # an alias
        fields = ["0", "*", "*", "*", "*"]
    field = rng.randrange(5)
    fields[field] = rng.choice(BAD_ITEMS[field])
    return " ".join(fields)


def _start(rng: random.Random, zone: Zone) -> datetime:
    if zone.changes:
        base = rng.choice(zone.changes)
    else:
        base = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
    moment = base + timedelta(seconds=rng.randint(-8 * 3600, 3 * 3600))
    return moment.replace(second=0) if rng.random() < 0.4 else moment


def _cases(
    count: int, make: Callable[[random.Random, datetime], str]
) -> Iterator[tuple[str, Zone, datetime]]:
    rng = random.Random(f"{SEED}-{count}")
    zones = [_zone(name) for name in ZONES]
    for _ in range(count):
        zone = rng.choice(zones)
        start = _start(rng, zone)
        yield make(rng, start.astimezone(zone.tz)), zone, start


# --- the comparisons ---------------------------------------------------------------


def _ours(expr: str) -> CronSchedule | str:
    try:
        return parse_cron(expr)
    except ConfigurationError as exc:
        return str(exc)


def compare(expr: str, zone: Zone, start: datetime) -> str | None:
    """None when our engine and onestep agree on ``expr``, else what differs."""
    theirs = onestep_parse(expr, zone.tz)
    ours = _ours(expr)
    if theirs is None:
        return None if isinstance(ours, str) else "onestep rejects it, we accept it"
    if isinstance(ours, str):
        wall = start.astimezone(zone.tz).replace(tzinfo=None)
        if (
            ours.endswith("it never matches a real date")
            and next(onestep_walls(theirs, zone.tz, wall), None) is None
        ):
            return None  # onestep accepts it and then raises at its first tick
        return f"onestep accepts it, we say: {ours}"
    got = our_fires(ours, zone, start)
    horizon = got[-1]
    expected = sorted(
        onestep_fires(theirs, zone, start, horizon) | second_pass_fires(theirs, zone, start, horizon)
    )
    if got != expected:
        local = [fire.astimezone(zone.tz).isoformat() for fire in got]
        wanted = [fire.astimezone(zone.tz).isoformat() for fire in expected]
        return f"from {start.astimezone(zone.tz).isoformat()}: ours {local}, onestep {wanted}"
    return None


def _check_all(cases: Iterator[tuple[str, Zone, datetime]]) -> None:
    failures = []
    for expr, zone, start in cases:
        problem = compare(expr, zone, start)
        if problem:
            failures.append(f"{expr!r} in {zone.tz.key} {problem}")
    assert not failures, f"{len(failures)} differ, e.g.:\n" + "\n".join(failures[:15])


def test_fires_match_onestep_on_random_expressions_around_dst_changes() -> None:
    _check_all(_cases(VALID_CASES, valid_expression))


def test_what_onestep_rejects_is_rejected_too() -> None:
    _check_all(_cases(INVALID_CASES, invalid_expression))


def test_the_generators_cover_what_they_claim() -> None:
    # A harness that silently generated only rejected expressions, or no DST-adjacent
    # fires, would pass the two tests above while comparing nothing.
    valid = list(islice(_cases(VALID_CASES, valid_expression), 400))
    accepted = [case for case in valid if onestep_parse(case[0], case[1].tz) is not None]
    assert len(accepted) > 0.95 * len(valid)
    assert {zone.tz.key for _, zone, _ in valid} == set(ZONES)
    assert any("-" in expr and "/" in expr for expr, _, _ in valid)
    assert any(name in expr.lower() for expr, _, _ in valid for name in ("jan", "mon", "fri"))
    near_change = 0
    for expr, zone, start in accepted:
        schedule = parse_cron(expr)
        for fire in our_fires(schedule, zone, start):
            if any(abs(fire - change) <= timedelta(hours=1) for change in zone.changes):
                near_change += 1
                break
    assert near_change > 50
    invalid = list(islice(_cases(INVALID_CASES, invalid_expression), 200))
    assert sum(onestep_parse(expr, zone.tz) is None for expr, zone, _ in invalid) > 0.9 * len(invalid)


def test_the_oracle_walk_is_onestep_next_after() -> None:
    # onestep_walls skips through days for speed; on dense expressions it must give
    # exactly what onestep's own minute-by-minute next_after gives.
    tz = ZoneInfo("America/New_York")
    rng = random.Random(SEED)
    for _ in range(60):
        start = datetime(2026, 11, 1, rng.randrange(24), rng.randrange(60), tzinfo=tz)
        expr = f"{_field(rng, 0, 0.3, [])} {_field(rng, 1, 0.5, [1, 2])} * * *"
        theirs = onestep_schedule.CronSchedule(expr, timezone=tz)
        walls = list(islice(onestep_walls(theirs, tz, start.replace(tzinfo=None)), 5))
        current, walked = start, []
        for _ in range(5):
            current = theirs.next_after(current)
            walked.append(current.replace(tzinfo=None))
        assert walls == walked, expr


# --- documented extensions and differences -----------------------------------------

EXTENSIONS = {
    # onestep 1.15 rejects these; docs/schedules.md documents each spelling.
    "0 0 L * *": "`L`",
    "0 0 15W * *": "`15W`",
    "0 0 * * 5#2": "`5#2`",
    "0 0 * * 5L": "`5L`",
    "0 0 * * mon-7": "`mon-7`",
    "0 0 * * 1-7/2": "`mon-7`",
    "@annually": "`@annually`",
    "@midnight": "`@midnight`",
}


@pytest.mark.parametrize(("expr", "documented_as"), EXTENSIONS.items())
def test_extensions_beyond_onestep_are_documented(expr: str, documented_as: str) -> None:
    assert onestep_parse(expr, UTC) is None
    assert isinstance(_ours(expr), CronSchedule)
    assert documented_as in DOCS.read_text()


def test_weekday_range_to_seven_is_classic_cron_not_onestep() -> None:
    # onestep maps the 7 to 0 before building the range, so "0-7" is Sunday only there;
    # for us (and classic cron) it is every day. Documented under the extensions.
    theirs = onestep_parse("0 0 * * 0-7", UTC)
    assert theirs is not None and theirs.day_of_week.values == {0}
    start = datetime(2026, 1, 3, 12, tzinfo=UTC)
    days = {fire.date().isoformat() for fire in islice(parse_cron("0 0 * * 0-7").fire_times(start, UTC), 7)}
    assert len(days) == 7
    assert "`0-7`" in DOCS.read_text()


@pytest.mark.parametrize("expr", ["+5 * * * *", "0 0 * * \u0665"])
def test_numbers_are_ascii_digits(expr: str) -> None:
    # onestep reads numbers with int(), which also takes "+5" and Arabic-Indic digits.
    assert onestep_parse(expr, UTC) is not None
    assert isinstance(_ours(expr), str)
    assert "ASCII digits" in DOCS.read_text()
