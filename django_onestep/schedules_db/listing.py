"""What ``onestep_check`` adds from the ``Schedule`` rows.

The core report computes the next fire times from the code alone; a schedule with a
stored history resumes from its stored next fire, and may be paused. Schedules defined
in the admin are listed too, with a warning when their task cannot take them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Sink
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.schedules.schedule import ScheduleSource
from django_onestep.schedules_db.admin_defined import source_for_rule
from django_onestep.schedules_db.coordinator import schedule_definition

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["add_admin_schedules", "add_stored_schedule_state"]


def add_stored_schedule_state(app: OneStepApp, report: dict[str, Any], using: str) -> None:
    """Fold the stored state into ``report["tasks"][i]["schedule"]`` (in place)."""
    from django.db import DatabaseError
    from django.utils import timezone

    from django_onestep.models import Schedule

    sources = {spec.name: spec.source for spec in app.tasks if isinstance(spec.source, ScheduleSource)}
    entries = {task["name"]: task["schedule"] for task in report.get("tasks", []) if task.get("schedule")}
    if not entries:
        return
    try:
        rows = {
            row.task: row
            for row in Schedule.objects.using(using).filter(app=app.name, task__in=list(entries))
        }
    except DatabaseError:
        return  # no table yet: the missing-tables check reports it
    now = timezone.now()
    for name, entry in entries.items():
        row, source = rows.get(name), sources.get(name)
        if row is None or source is None:
            continue
        entry["paused"] = row.paused
        entry["last_fire_at"] = (
            row.last_fire_at.astimezone(source.timezone).isoformat() if row.last_fire_at else None
        )
        entry["last_outcome"] = row.last_outcome or None
        resumes = row.definition == schedule_definition(source) and row.next_fire_at is not None
        if resumes and row.next_fire_at is not None and row.next_fire_at > now:
            upcoming = [tick.isoformat() for tick in source.upcoming_fire_times(3, first=row.next_fire_at)]
            entry["next_fire_at"], entry["next_fire_times"] = upcoming[0], upcoming


def add_admin_schedules(app: OneStepApp, report: dict[str, Any], using: str) -> None:
    """``report["admin_schedules"]``: the app's admin-defined schedules, next three fires each."""
    from django.db import DatabaseError
    from django.utils import timezone

    from django_onestep.models import Schedule

    try:
        rows = list(
            Schedule.objects.using(using).filter(origin=Schedule.Origin.ADMIN, app=app.name).order_by("key")
        )
    except DatabaseError:
        return
    queues = {spec.name: isinstance(spec.source, Sink) for spec in app.tasks}
    now = timezone.now()
    listed: list[dict[str, Any]] = []
    for row in rows:
        entry: dict[str, Any] = {
            "key": row.key,
            "task": row.task,
            "paused": row.paused,
            "next_fire_times": [],
        }
        try:
            source = source_for_rule(
                key=row.key,
                expression=row.expression,
                interval_s=row.interval_s,
                timezone=row.timezone or "UTC",
                payload=None,
            )
        except ConfigurationError as exc:
            source, entry["definition"] = None, "invalid"
            _warn(report, f"admin schedule {row.key!r} is not used: {exc}")
        if source is not None:
            entry["definition"] = schedule_definition(source)
            stored = row.next_fire_at if row.definition == entry["definition"] else None
            first = stored if stored is not None and stored > now else None
            entry["next_fire_times"] = [
                tick.isoformat() for tick in source.upcoming_fire_times(3, first=first)
            ]
        elif "definition" not in entry:
            entry["definition"] = "one-off"
            if row.run_requested_at is not None:
                entry["next_fire_times"] = [row.run_requested_at.isoformat()]
        if row.task not in queues:
            _warn(report, f"admin schedule {row.key!r} names task {row.task!r}, which the app does not have")
        elif not queues[row.task]:
            _warn(report, f"admin schedule {row.key!r}: task {row.task!r} has no queue source to enqueue on")
        listed.append(entry)
    report["admin_schedules"] = listed


def _warn(report: dict[str, Any], message: str) -> None:
    report.setdefault("problems", []).append({"level": "warning", "task": None, "message": message})
