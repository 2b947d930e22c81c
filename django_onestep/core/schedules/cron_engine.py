"""The one cron engine: croniter finds wall-clock times, this module turns them into instants.

:func:`parse_cron` is the only way in: the runtime (``CronSource``) and the system
check (E006) both call it, so they accept and refuse the same expressions with the same
message. No I/O and no clock: callers pass the instant to search after.

croniter runs on naive wall-clock times (its own DST handling differs from onestep's),
and the daylight-saving rules are applied here, as onestep 1.x applies them (a fire is
due once the zone's wall clock has reached its wall time):

* A wall time that does not exist (spring forward: ``30 2 * * *`` in America/New_York
  on the second Sunday of March) fires once, at the instant the clocks jump (03:00
  local), so a daily job never silently skips a day. Several missing times collapse
  into that one fire.
* A wall time that exists twice (fall back) fires once, at its first occurrence; at its
  second only when the search starts after the first has passed (a worker started
  during the repeated hour). When the hour field is ``*`` (the job runs every hour) it
  fires in both passes, so ``*/15 * * * *`` keeps its cadence through the repeated hour.

The day OR rule is onestep's: when neither day field is literally ``*``, a day matches
if either matches. croniter decides that from its own expansion (``1-31`` counts as
``*``), so such an expression is handed to croniter as two, one per day field, and the
earlier fire wins.

Every instant returned is an aware UTC datetime, so comparisons never fall into
Python's same-tzinfo wall-clock comparison rule.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from croniter import CroniterBadDateError, CroniterError, croniter

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.schedules.cron_syntax import CronText, check_cron_text

__all__ = ["CronSchedule", "cron_problem", "fire_times", "parse_cron"]

_MINUTE = timedelta(minutes=1)
_HOUR_FIELD = 1
# croniter's search starts here when checking that an expression can ever fire: 50
# years on (its horizon) covers every 28-year weekday/leap-year cycle.
_PROBE_START = datetime(2000, 1, 1)


def parse_cron(expression: object) -> CronSchedule:
    """The schedule for ``expression``, or ConfigurationError (a ValueError) naming it."""
    text = check_cron_text(expression)
    try:
        schedule = CronSchedule(text)
    except CroniterError as exc:  # the gate should leave croniter nothing to refuse
        raise ConfigurationError(f"invalid cron expression {expression!r}: {exc}") from None
    if not schedule.can_fire:
        raise ConfigurationError(f"invalid cron expression {expression!r}: it never matches a real date")
    return schedule


def cron_problem(expression: object) -> str | None:
    """Why ``expression`` is not a valid cron expression, or None when it is."""
    try:
        parse_cron(expression)
    except ConfigurationError as exc:
        return str(exc)
    return None


def fire_times(expression: object, timezone: tzinfo, after: datetime) -> Iterator[datetime]:
    """Validate ``expression`` now, then yield its fire instants (UTC) after ``after``."""
    return parse_cron(expression).fire_times(after, timezone)


class CronSchedule:
    """A validated expression; ``next_after`` is the whole scheduling algorithm."""

    def __init__(self, text: CronText) -> None:
        self.expression = text.expression
        minute, hour, day_of_month, month, day_of_week = text.fields
        if text.day_of_month_any or text.day_of_week_any:
            variants = [f"{minute} {hour} {day_of_month} {month} {day_of_week}"]
        else:  # OR rule: one croniter per day field
            variants = [
                f"{minute} {hour} {day_of_month} {month} *",
                f"{minute} {hour} * {month} {day_of_week}",
            ]
        iterators = [croniter(variant, _PROBE_START) for variant in variants]
        self._every_hour: bool = iterators[0].expanded[_HOUR_FIELD] == ["*"]
        # croniter keeps its position on the object: one search at a time.
        self._lock = threading.Lock()
        self._sides = [it for it in iterators if _can_fire(it)]
        self.can_fire = bool(self._sides)

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r})"

    def next_wall(self, wall: datetime) -> datetime | None:
        """The first matching wall-clock minute strictly after naive ``wall``."""
        best: datetime | None = None
        with self._lock:
            for side in self._sides:
                try:
                    found: datetime = side.get_next(datetime, start_time=wall)
                except CroniterBadDateError:  # nothing within croniter's 50-year horizon
                    continue
                if best is None or found < best:
                    best = found
        return best

    def next_after(self, after: datetime, tz: tzinfo) -> datetime | None:
        """The first fire instant strictly after ``after`` (aware), as UTC; None if never."""
        after_utc = after.astimezone(UTC)
        local = after_utc.astimezone(tz)
        wall = local.replace(tzinfo=None, fold=0)
        upcoming = self.next_wall(wall)
        if upcoming is None:
            return None
        instant = _due_instant(upcoming, after_utc, tz)
        if self._every_hour and local.fold == 0 and _is_repeated(wall, tz):
            repeat = self._second_pass(wall, tz)
            if repeat is not None and repeat < instant:
                instant = repeat
        return instant

    def first_at_or_after(self, now: datetime, tz: tzinfo) -> datetime | None:
        """``now`` itself when it is exactly a matching minute, else ``next_after(now)``."""
        local = now.astimezone(tz)
        if local.second == 0 and local.microsecond == 0:
            wall = local.replace(tzinfo=None, fold=0)
            if self.next_wall(wall - _MINUTE) == wall:
                return now.astimezone(UTC)
        return self.next_after(now, tz)

    def fire_times(self, after: datetime, tz: tzinfo) -> Iterator[datetime]:
        """Every fire instant (UTC) strictly after ``after``, in order."""
        moment: datetime | None = self.next_after(after, tz)
        while moment is not None:
            yield moment
            moment = self.next_after(moment, tz)

    def _second_pass(self, wall: datetime, tz: tzinfo) -> datetime | None:
        """The first matching wall time of the repeated hour, at its second pass.

        Called while the clock is in the first pass of a fall-back repetition (at
        ``wall``): the matching walls already passed in it come round again.
        """
        first, second = _instants(wall, tz)
        candidate = self.next_wall(wall - (second - first) - _MINUTE)
        while candidate is not None and candidate <= wall:
            if _is_repeated(candidate, tz):
                return _instants(candidate, tz)[1]
            candidate = self.next_wall(candidate)
        return None


def _can_fire(side: Any) -> bool:
    try:
        side.get_next(datetime, start_time=_PROBE_START)
    except CroniterBadDateError:
        return False
    return True


def _instants(wall: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """``wall`` read with fold=0 and fold=1, as UTC (equal unless near a DST change)."""
    return (
        wall.replace(tzinfo=tz, fold=0).astimezone(UTC),
        wall.replace(tzinfo=tz, fold=1).astimezone(UTC),
    )


def _is_repeated(wall: datetime, tz: tzinfo) -> bool:
    first, second = _instants(wall, tz)
    return first != second and first.astimezone(tz).replace(tzinfo=None) == wall


def _due_instant(wall: datetime, after_utc: datetime, tz: tzinfo) -> datetime:
    """When the zone's clock, running from ``after_utc``, first reaches ``wall``."""
    first, second = _instants(wall, tz)
    if first == second:
        return first
    if first.astimezone(tz).replace(tzinfo=None) == wall:  # exists twice: fold=0 is earlier
        return first if first > after_utc else second
    return _gap_end(before=second, after=first, tz=tz)


def _gap_end(*, before: datetime, after: datetime, tz: tzinfo) -> datetime:
    """The instant the clocks jump, found between an instant before and one after it.

    A missing wall time read with fold=1 lands before the jump and with fold=0 after it.
    """
    target = after.astimezone(tz).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
