"""CronSource: ticks at wall-clock times of a 5-field cron expression (onestep 1.x API).

The arithmetic lives in :mod:`cron_engine` (croniter plus the DST rules), shared with
the system check; this module only binds it to the shared tick logic.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.schedules.cron_engine import CronSchedule, parse_cron
from django_onestep.core.schedules.schedule import (
    DEFAULT_MAX_CATCH_UP,
    DEFAULT_MAX_QUEUED_RUNS,
    DEFAULT_MISFIRE,
    Clock,
    ScheduleSource,
    resolve_timezone,
)

__all__ = ["CronSource"]


class CronSource(ScheduleSource):
    """Fires at each matching minute in ``timezone`` (the machine's zone when None).

    The first tick is the next matching minute after start (the current minute when
    start is exactly on it), or at once with ``immediate=True``.
    """

    def __init__(
        self,
        expression: str,
        *,
        payload: Any = None,
        immediate: bool = False,
        overlap: str = "allow",
        timezone: str | tzinfo | None = None,
        timezone_name: str | tzinfo | None = None,
        poll_interval_s: float = 1.0,
        max_queued_runs: int = DEFAULT_MAX_QUEUED_RUNS,
        misfire: str = DEFAULT_MISFIRE,
        max_catch_up: int = DEFAULT_MAX_CATCH_UP,
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        self.schedule: CronSchedule = parse_cron(expression)
        self.expression = self.schedule.expression
        raw_timezone = timezone if timezone is not None else timezone_name
        super().__init__(
            name or f"cron:{self.expression}",
            payload=payload,
            immediate=immediate,
            overlap=overlap,
            timezone=resolve_timezone(raw_timezone) if raw_timezone is not None else None,
            timezone_name=raw_timezone if isinstance(raw_timezone, str) else None,
            poll_interval_s=poll_interval_s,
            max_queued_runs=max_queued_runs,
            misfire=misfire,
            max_catch_up=max_catch_up,
            clock=clock,
        )

    def initial_fire_at(self, now: datetime) -> datetime:
        return self._required(self.schedule.first_at_or_after(now, self.timezone))

    def next_fire_after(self, fired_at: datetime) -> datetime:
        return self._required(self.schedule.next_after(fired_at, self.timezone))

    def _required(self, instant: datetime | None) -> datetime:
        if instant is None:  # parse_cron rejects expressions that never match
            raise ConfigurationError(f"cron expression {self.expression!r} has no next fire time")
        return instant
