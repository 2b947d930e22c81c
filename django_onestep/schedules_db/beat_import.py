"""Map celery beat schedules onto admin-defined ``Schedule`` rows.

Two inputs: a ``CELERY_BEAT_SCHEDULE`` dict (``schedule`` a number of seconds, a
``timedelta``, or celery's ``crontab``/``schedule`` objects, read by their attributes so
celery need not be installed), and django-celery-beat's tables, read with plain SQL so
django-celery-beat need not be installed either. Every entry becomes a :class:`BeatEntry`
or a one-line reason why it cannot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.schedules_db.admin_defined import source_for_rule

__all__ = ["BeatEntry", "NotMapped", "from_beat_schedule", "from_beat_tables"]

_PERIOD_S = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0, "microseconds": 1e-6}


@dataclass
class BeatEntry:
    """One schedule to create: ``expression`` or ``interval_s``, or a one-off ``run_at``."""

    name: str
    celery_task: str
    task: str = ""
    expression: str = ""
    interval_s: float | None = None
    timezone: str = "UTC"
    payload: Any = None
    paused: bool = False
    start_at: datetime | None = None
    end_at: datetime | None = None
    run_at: datetime | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class NotMapped:
    name: str
    reason: str


def _payload(entry: BeatEntry, args: Any, kwargs: Any) -> None:
    args, kwargs = list(args or ()), dict(kwargs or {})
    if args:
        entry.payload = {"args": args, **kwargs}
        entry.notes.append("positional args are in payload['args']")
    else:
        entry.payload = kwargs or None


def _crontab_expression(minute: Any, hour: Any, day_of_month: Any, month: Any, day_of_week: Any) -> str:
    return " ".join(str(part).replace(" ", "") for part in (minute, hour, day_of_month, month, day_of_week))


# celery's crontab expands each field to a set of ints (its public attributes), in cron order
_CRONTAB_SETS = {
    "minute": set(range(60)),
    "hour": set(range(24)),
    "day_of_month": set(range(1, 32)),
    "month_of_year": set(range(1, 13)),
    "day_of_week": set(range(7)),
}


def _cron_field(values: Any, full: set[int]) -> str:
    chosen = {int(value) for value in values}
    return "*" if chosen == full else ",".join(str(value) for value in sorted(chosen))


def _checked(entry: BeatEntry) -> BeatEntry | NotMapped:
    try:
        source_for_rule(
            key=entry.name,
            expression=entry.expression,
            interval_s=entry.interval_s,
            timezone=entry.timezone,
            payload=None,
        )
    except ConfigurationError as exc:
        return NotMapped(entry.name, str(exc))
    return entry


def from_beat_schedule(schedule: dict[str, Any], *, timezone: str) -> list[BeatEntry | NotMapped]:
    """The entries of a ``CELERY_BEAT_SCHEDULE`` dict."""
    mapped: list[BeatEntry | NotMapped] = []
    for name, spec in schedule.items():
        if not isinstance(spec, dict) or not spec.get("task"):
            mapped.append(NotMapped(name, "not a dict with a 'task'"))
            continue
        entry = BeatEntry(name=name, celery_task=str(spec["task"]), timezone=timezone)
        _payload(entry, spec.get("args"), spec.get("kwargs"))
        every: Any = spec.get("schedule")
        every = getattr(every, "run_every", every)  # celery.schedules.schedule
        if isinstance(every, timedelta):
            entry.interval_s = every.total_seconds()
        elif isinstance(every, int | float) and not isinstance(every, bool):
            entry.interval_s = float(every)
        elif all(hasattr(every, part) for part in _CRONTAB_SETS):  # celery.schedules.crontab
            entry.expression = _crontab_expression(
                *(_cron_field(getattr(every, part), full) for part, full in _CRONTAB_SETS.items())
            )
        else:
            mapped.append(NotMapped(name, f"schedule {type(every).__name__} has no equivalent (solar?)"))
            continue
        mapped.append(_checked(entry))
    return mapped


_TABLES_SQL = """
SELECT t.name, t.task, t.args, t.kwargs, t.enabled, t.one_off, t.start_time, t.expires,
       c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week, c.timezone,
       i.every, i.period, k.clocked_time, t.solar_id
FROM django_celery_beat_periodictask t
LEFT JOIN django_celery_beat_crontabschedule c ON c.id = t.crontab_id
LEFT JOIN django_celery_beat_intervalschedule i ON i.id = t.interval_id
LEFT JOIN django_celery_beat_clockedschedule k ON k.id = t.clocked_id
ORDER BY t.name
"""


def _aware(value: Any) -> datetime | None:
    from django.utils import timezone

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def from_beat_tables(using: str) -> list[BeatEntry | NotMapped]:
    """The periodic tasks in django-celery-beat's tables of database ``using``."""
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute(_TABLES_SQL)
        rows = cursor.fetchall()
    mapped: list[BeatEntry | NotMapped] = []
    for row in rows:
        (
            name,
            task,
            args,
            kwargs,
            enabled,
            one_off,
            start,
            expires,
            *cron,
            zone,
            every,
            period,
            clocked,
            solar,
        ) = row
        if name == "celery.backend_cleanup":
            mapped.append(NotMapped(name, "celery's own result cleanup: not needed"))
            continue
        entry = BeatEntry(name=name, celery_task=task, paused=not enabled, timezone=str(zone or "UTC"))
        entry.start_at, entry.end_at = _aware(start), _aware(expires)
        _payload(entry, json.loads(args or "[]"), json.loads(kwargs or "{}"))
        if cron[0] is not None:
            entry.expression = _crontab_expression(*cron)
        elif every is not None:
            entry.interval_s = float(every) * _PERIOD_S.get(str(period), 0.0)
        elif clocked is not None:
            entry.run_at = _aware(clocked)
        else:
            reason = "a solar schedule has no equivalent" if solar is not None else "it has no schedule"
            mapped.append(NotMapped(name, reason))
            continue
        if one_off and entry.run_at is None:
            mapped.append(NotMapped(name, "one_off with a repeating schedule: use a clocked time (run at)"))
            continue
        mapped.append(_checked(entry) if entry.run_at is None else entry)
    return mapped
