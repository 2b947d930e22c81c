"""What ``onestep_check`` adds to each schedule from its ``Schedule`` row.

The core report computes the next fire times from the code alone; a schedule with a
stored history resumes from its stored next fire, and may be paused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_onestep.core.schedules.schedule import ScheduleSource
from django_onestep.schedules_db.coordinator import schedule_definition

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["add_stored_schedule_state"]


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
