"""Pure cron arithmetic: parse a 5-field expression and find the next fire instant.

No I/O and no clock: callers pass the instant to search after, so every rule here is
tested on its own (the arq habit). Semantics follow onestep 1.x:

* 5 fields ``minute hour day-of-month month day-of-week``; ``*``, lists, ranges,
  steps (``*/5``, ``1-30/2``, ``5/15``), month names (``jan``) and weekday names
  (``mon``), weekday ``0`` and ``7`` are both Sunday; aliases ``@hourly @daily
  @weekly @monthly @yearly`` (plus ``@annually`` and ``@midnight``).
* When both day fields are restricted (neither is literally ``*``) a day matches if
  *either* matches (classic cron OR rule), as in onestep.

Daylight-saving time (wall-clock times in the expression's IANA timezone):

* A wall time that does not exist (spring forward: ``30 2 * * *`` in
  America/New_York on the second Sunday of March) fires once, at the instant the
  clocks jump (03:00 local), so a daily job never silently skips a day.
* A wall time that exists twice (fall back) fires once, at its first occurrence,
  unless the hour field is ``*`` (the job runs every hour): then it fires in both
  passes so ``*/15 * * * *`` keeps its cadence through the repeated hour.

Every instant returned is an aware UTC datetime, so comparisons never fall into
Python's same-tzinfo wall-clock comparison rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from django_onestep.core.errors import ConfigurationError

__all__ = ["CRON_ALIASES", "CronExpression", "CronField", "parse_cron"]

MONTH_NAMES = {
    name: index
    for index, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
DOW_NAMES = {name: index for index, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# Feb 29 recurs at most 8 years apart (2096 -> 2104); search a little beyond that.
_MAX_SEARCH_DAYS = 366 * 9
# No real-world UTC offset change exceeds this; bounds how far a wall time can move.
_MAX_SHIFT = timedelta(hours=3)


@dataclass(frozen=True)
class CronField:
    """One parsed field: the allowed values and whether it was written as ``*``."""

    name: str
    values: frozenset[int]
    any: bool
    covers_all: bool


_FIELD_SPECS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, MONTH_NAMES),
    ("day-of-week", 0, 7, DOW_NAMES),
)


def _parse_value(text: str, *, field: str, low: int, high: int, names: dict[str, int]) -> int:
    lowered = text.strip().lower()
    if lowered in names:
        return names[lowered]
    if not lowered.isdigit():
        raise ValueError(f"{field} value {text!r} is not a number or a known name")
    value = int(lowered)
    if value < low or value > high:
        raise ValueError(f"{field} value {text!r} is outside {low}-{high}")
    return value


def _parse_chunk(chunk: str, *, field: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    if not chunk:
        raise ValueError(f"{field} has an empty list item")
    base, slash, step_text = chunk.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise ValueError(f"{field} step {step_text!r} must be a positive integer")
        step = int(step_text)
    # 7 is accepted as a spelling of Sunday, but an open end stops at Saturday: "3/4"
    # is Wednesday only (with 7 as the end it would add Sunday).
    open_end = 6 if field == "day-of-week" else high
    if base == "*":
        start, end = low, open_end
    elif "-" in base:
        start_text, _, end_text = base.partition("-")
        start = _parse_value(start_text, field=field, low=low, high=high, names=names)
        end = _parse_value(end_text, field=field, low=low, high=high, names=names)
        if start > end:
            raise ValueError(f"{field} range {base!r} runs backwards")
    else:
        start = _parse_value(base, field=field, low=low, high=high, names=names)
        end = open_end if slash else start
    return set(range(start, end + 1, step))


def _parse_field(text: str, *, field: str, low: int, high: int, names: dict[str, int]) -> CronField:
    values: set[int] = set()
    for chunk in text.split(","):
        values |= _parse_chunk(chunk.strip(), field=field, low=low, high=high, names=names)
    if field == "day-of-week" and 7 in values:  # 7 is Sunday too
        values = (values - {7}) | {0}
    full = set(range(low, 7 if field == "day-of-week" else high + 1))
    return CronField(field, frozenset(values), any=text.strip() == "*", covers_all=values >= full)


@dataclass(frozen=True)
class CronExpression:
    """A parsed expression. ``next_after`` is the whole scheduling algorithm."""

    expression: str
    minute: CronField
    hour: CronField
    day_of_month: CronField
    month: CronField
    day_of_week: CronField

    def day_matches(self, day: date) -> bool:
        if day.month not in self.month.values:
            return False
        dom = day.day in self.day_of_month.values
        dow = (day.weekday() + 1) % 7 in self.day_of_week.values
        if self.day_of_month.any and self.day_of_week.any:
            return True
        if self.day_of_month.any:
            return dow
        if self.day_of_week.any:
            return dom
        return dom or dow

    def matches(self, moment: datetime, tz: tzinfo) -> bool:
        """True when ``moment`` (aware) falls on a matching minute in ``tz``."""
        local = moment.astimezone(tz)
        return (
            local.minute in self.minute.values
            and local.hour in self.hour.values
            and self.day_matches(local.date())
        )

    def next_after(self, after: datetime, tz: tzinfo) -> datetime | None:
        """The first fire instant strictly after ``after`` (aware), as UTC; None if never."""
        after_utc = after.astimezone(UTC)
        local_after = after_utc.astimezone(tz).replace(tzinfo=None)
        earliest_wall = local_after - _MAX_SHIFT
        day = earliest_wall.date()
        best: datetime | None = None
        best_wall: datetime | None = None
        for _ in range(_MAX_SEARCH_DAYS):
            if best_wall is not None and datetime.combine(day, datetime.min.time()) > best_wall + _MAX_SHIFT:
                return best
            if self.day_matches(day):
                for wall in self._walls_on(day):
                    if wall < earliest_wall:
                        continue
                    if best_wall is not None and wall > best_wall + _MAX_SHIFT:
                        break
                    for instant in self._instants_for(wall, tz):
                        if instant > after_utc and (best is None or instant < best):
                            best, best_wall = instant, wall
            day += timedelta(days=1)
        return best

    def first_at_or_after(self, now: datetime, tz: tzinfo) -> datetime | None:
        """``now`` itself when it is exactly a matching minute, else ``next_after(now)``."""
        if now.second == 0 and now.microsecond == 0 and self.matches(now, tz):
            return now.astimezone(UTC)
        return self.next_after(now, tz)

    def _walls_on(self, day: date) -> list[datetime]:
        return [
            datetime(day.year, day.month, day.day, hour, minute)
            for hour in sorted(self.hour.values)
            for minute in sorted(self.minute.values)
        ]

    def _instants_for(self, wall: datetime, tz: tzinfo) -> list[datetime]:
        first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if first == second:
            return [first]
        if first.astimezone(tz).replace(tzinfo=None) == wall:
            # Ambiguous (fall back): fold=0 is the earlier pass.
            return [first, second] if self.hour.covers_all else [first]
        return [_gap_end(wall, tz)]


def _gap_end(wall: datetime, tz: tzinfo) -> datetime:
    """The instant clocks jump past a non-existent wall time (the first existing minute)."""
    probe = wall
    for _ in range(24 * 60):
        probe += timedelta(minutes=1)
        candidate = probe.replace(tzinfo=tz, fold=0)
        as_utc = candidate.astimezone(UTC)
        if as_utc.astimezone(tz).replace(tzinfo=None) == probe:
            return as_utc
    raise ConfigurationError(f"no valid local time follows {wall.isoformat()} in {tz}")  # pragma: no cover


def parse_cron(expression: str) -> CronExpression:
    """Parse ``expression`` or raise ConfigurationError (a ValueError) naming it."""
    if not isinstance(expression, str) or not expression.strip():
        raise ConfigurationError(f"invalid cron expression {expression!r}: it must be a non-empty string")
    stripped = expression.strip()
    normalized = CRON_ALIASES.get(stripped.lower(), stripped)
    if normalized.startswith("@"):
        known = ", ".join(sorted(CRON_ALIASES))
        raise ConfigurationError(f"invalid cron expression {expression!r}: unknown alias (known: {known})")
    parts = normalized.split()
    if len(parts) != 5:
        raise ConfigurationError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    try:
        fields = [
            _parse_field(text, field=name, low=low, high=high, names=names)
            for text, (name, low, high, names) in zip(parts, _FIELD_SPECS, strict=True)
        ]
    except ValueError as exc:
        raise ConfigurationError(f"invalid cron expression {expression!r}: {exc}") from None
    parsed = CronExpression(normalized, *fields)
    if parsed.next_after(datetime(2000, 1, 1, tzinfo=UTC), UTC) is None:
        raise ConfigurationError(f"invalid cron expression {expression!r}: it never matches a real date")
    return parsed
