"""Turn mapped celery beat entries into admin-defined ``Schedule`` rows (or say why not)."""

from __future__ import annotations

from collections.abc import Mapping

from django_onestep.schedules_db.admin_defined import source_for_rule
from django_onestep.schedules_db.beat_import import BeatEntry, NotMapped
from django_onestep.schedules_db.coordinator import schedule_definition

__all__ = ["resolve_task", "save_entries"]


def resolve_task(celery_task: str, queue_tasks: Mapping[str, bool]) -> tuple[str, str | None]:
    """Our task for a celery task path: the same name, else its last dotted part.

    ``queue_tasks`` maps task names to "has a queue source". Returns (name, problem).
    """
    for candidate in (celery_task, celery_task.rsplit(".", 1)[-1]):
        if candidate in queue_tasks:
            if not queue_tasks[candidate]:
                return candidate, f"task {candidate!r} has no queue source to enqueue on"
            return candidate, None
    return "", f"no task named {celery_task!r} or {celery_task.rsplit('.', 1)[-1]!r} in the app"


def _describe(entry: BeatEntry) -> str:
    if entry.run_at is not None:
        return f"one-off at {entry.run_at.isoformat()}"
    rule = f"cron {entry.expression}" if entry.expression else f"every {entry.interval_s:g}s"
    return f"{rule} {entry.timezone}"


def save_entries(
    mapped: list[BeatEntry | NotMapped],
    *,
    app_name: str,
    queue_tasks: Mapping[str, bool],
    using: str,
    dry_run: bool,
) -> tuple[list[str], int, int]:
    """Create or update one row per mappable entry; returns (report lines, imported, not mapped)."""
    from django.utils import timezone

    from django_onestep.models import Schedule

    lines: list[str] = []
    imported = skipped = 0
    for item in mapped:
        if isinstance(item, NotMapped):
            lines.append(f"not mapped {item.name}: {item.reason}")
            skipped += 1
            continue
        task, problem = resolve_task(item.celery_task, queue_tasks)
        if problem:
            lines.append(f"not mapped {item.name}: {problem}")
            skipped += 1
            continue
        key = f"beat:{item.name}"[:200]
        source = source_for_rule(
            key=key,
            expression=item.expression,
            interval_s=item.interval_s,
            timezone=item.timezone,
            payload=None,
        )
        notes = f" ({'; '.join(item.notes)})" if item.notes else ""
        paused = " [disabled]" if item.paused else ""
        lines.append(
            f"{'would import' if dry_run else 'imported'} {key}: {_describe(item)} -> task {task}{paused}{notes}"
        )
        imported += 1
        if dry_run:
            continue
        Schedule.objects.using(using).update_or_create(
            key=key,
            defaults={
                "origin": Schedule.Origin.ADMIN,
                "app": app_name,
                "task": task,
                "expression": item.expression,
                "interval_s": item.interval_s,
                "timezone": item.timezone,
                "payload": item.payload,
                "paused": item.paused,
                "start_at": item.start_at,
                "end_at": item.end_at,
                "run_requested_at": item.run_at,
                "definition": schedule_definition(source) if source is not None else "one-off",
                "next_fire_at": None,
                "updated_at": timezone.now(),
            },
        )
    return lines, imported, skipped
