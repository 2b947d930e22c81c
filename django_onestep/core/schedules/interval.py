"""IntervalSource: a tick every fixed elapsed duration (onestep 1.x API)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.schedules.schedule import (
    DEFAULT_MAX_CATCH_UP,
    DEFAULT_MAX_QUEUED_RUNS,
    DEFAULT_MISFIRE,
    Clock,
    ScheduleSource,
)
from django_onestep.core.validation import finite_number, is_finite_number

__all__ = ["IntervalSource"]


def _as_interval(value: timedelta | float) -> timedelta:
    if isinstance(value, timedelta):
        interval = value
    elif is_finite_number(value):
        interval = timedelta(seconds=value)
    else:
        raise ConfigurationError(f"interval must be a timedelta or a number of seconds; got {value!r}")
    if interval.total_seconds() <= 0:
        raise ConfigurationError(f"interval must be greater than zero; got {interval.total_seconds()!r} s")
    return interval


class IntervalSource(ScheduleSource):
    """Fires every ``interval``; the first tick is one interval after start (or at once
    with ``immediate=True``). Intervals are elapsed time, so a DST change neither
    shortens nor stretches them; ``scheduled_at`` is shown in ``timezone``.
    """

    def __init__(
        self,
        interval: timedelta | float,
        *,
        payload: Any = None,
        immediate: bool = False,
        overlap: str = "allow",
        timezone: str | tzinfo | None = None,
        timezone_name: str | tzinfo | None = None,
        poll_interval_s: float | None = None,
        max_queued_runs: int = DEFAULT_MAX_QUEUED_RUNS,
        misfire: str = DEFAULT_MISFIRE,
        max_catch_up: int = DEFAULT_MAX_CATCH_UP,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        self.interval = _as_interval(interval)
        seconds = self.interval.total_seconds()
        default_poll_s = min(max(seconds / 10.0, 0.01), 1.0)
        super().__init__(
            name or f"interval:{int(seconds)}s",
            payload=payload,
            immediate=immediate,
            overlap=overlap,
            timezone=timezone,
            timezone_name=timezone_name,
            poll_interval_s=default_poll_s if poll_interval_s is None else poll_interval_s,
            max_queued_runs=max_queued_runs,
            misfire=misfire,
            max_catch_up=max_catch_up,
            clock=clock,
        )

    @property
    def interval_s(self) -> float:
        return self.interval.total_seconds()

    @classmethod
    def every(
        cls,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        payload: Any = None,
        immediate: bool = False,
        overlap: str = "allow",
        timezone: str | tzinfo | None = None,
        timezone_name: str | tzinfo | None = None,
        poll_interval_s: float | None = None,
        max_queued_runs: int = DEFAULT_MAX_QUEUED_RUNS,
        misfire: str = DEFAULT_MISFIRE,
        max_catch_up: int = DEFAULT_MAX_CATCH_UP,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> IntervalSource:
        for label, amount in (("days", days), ("hours", hours), ("minutes", minutes), ("seconds", seconds)):
            finite_number(label, amount)
        return cls(
            timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds),
            payload=payload,
            immediate=immediate,
            overlap=overlap,
            timezone=timezone,
            timezone_name=timezone_name,
            poll_interval_s=poll_interval_s,
            max_queued_runs=max_queued_runs,
            misfire=misfire,
            max_catch_up=max_catch_up,
            clock=clock,
            name=name,
        )

    def initial_fire_at(self, now: datetime) -> datetime:
        return now + self.interval

    def next_fire_after(self, fired_at: datetime) -> datetime:
        return fired_at + self.interval

    def missed_ticks(self, first: datetime, now: datetime, keep: int) -> tuple[list[datetime], datetime]:
        # arithmetic, so a week down with a 1-second interval costs nothing
        count = int((now - first) // self.interval) + 1 if now >= first else 0
        kept = [first + self.interval * n for n in range(max(0, count - keep), count)]
        return kept, first + self.interval * count
