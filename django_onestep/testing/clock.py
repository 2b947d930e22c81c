"""A controllable clock for schedules: ``CronSource(..., clock=clock)``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]


class FakeClock:
    """Zero-argument callable returning an aware datetime that moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError(f"FakeClock needs an aware datetime, got {start!r}")
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> datetime:
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if delta < timedelta(0):
            raise ValueError(f"a clock only moves forward, got {delta}")
        self.current += delta
        return self.current

    def set(self, when: datetime) -> datetime:
        if when < self.current:
            raise ValueError(f"a clock only moves forward: {when} < {self.current}")
        self.current = when
        return self.current
