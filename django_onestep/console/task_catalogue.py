"""The task catalogue: every task of the project app with its wiring and recent record.

Definitions come from the project app (``from django_onestep import app``); the record
(last success, last failure, failure rate over the last hour) from the per-minute
``TaskMetric`` windows, and the paused flag from ``PausedTask``: three grouped queries
whatever the number of tasks or rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Sum
from django.utils import timezone

from django_onestep.connectors.redis.partitioned import PartitionedStream
from django_onestep.core.schedules.schedule import ScheduleSource
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import PausedTask, TaskMetric
from django_onestep.project.project_app import get_project_app

__all__ = ["TaskRow", "catalogue", "find_task"]


@dataclass
class TaskRow:
    name: str
    source: str
    sinks: str
    retry: str
    concurrency: int
    schedule: str
    next_run: datetime | None
    last_success: datetime | None
    last_failure: datetime | None
    failure_rate: str
    paused_by: str | None  # None: not paused
    queue: str | None  # the database queue "run now" enqueues to
    partitioned: bool = False  # on a partitioned stream: the partitions page applies


def _describe(resource: Any) -> str:
    if resource is None:
        return "-"
    return f"{type(resource).__name__}({getattr(resource, 'name', '')!s})"


def _next_run(source: Any, now: datetime) -> datetime | None:
    if not isinstance(source, ScheduleSource):
        return None
    if source.next_fire_at is not None:  # a worker in this process runs it
        return source.next_fire_at
    try:
        return source.initial_fire_at(now)
    except Exception:  # a schedule that cannot say (e.g. one persisted elsewhere)
        return None


def find_task(name: str) -> Any:
    return next((spec for spec in get_project_app().tasks if spec.name == name), None)


def catalogue(now: datetime | None = None) -> list[TaskRow]:
    app = get_project_app()
    now = now or timezone.now()
    windows = TaskMetric.objects.filter(app=app.name).order_by()
    successes = dict(windows.filter(succeeded__gt=0).values("task").annotate(at=Max("window_start"))
                     .values_list("task", "at"))  # fmt: skip
    failures = dict(windows.filter(failed__gt=0).values("task").annotate(at=Max("window_start"))
                    .values_list("task", "at"))  # fmt: skip
    hour = (windows.filter(window_start__gte=now - timedelta(hours=1)).values("task")
            .annotate(ok=Sum("succeeded"), retried=Sum("retried"), failed=Sum("failed")))  # fmt: skip
    rates = {
        row["task"]: f"{100 * (row['retried'] + row['failed']) / ended:.1f}%"
        for row in hour
        if (ended := row["ok"] + row["retried"] + row["failed"])
    }
    paused = dict(PausedTask.objects.filter(app=app.name).values_list("task", "paused_by"))
    rows = []
    for spec in sorted(app.tasks, key=lambda spec: spec.name):
        source = spec.source
        rows.append(
            TaskRow(
                name=spec.name,
                source=_describe(source),
                sinks=", ".join(_describe(sink) for sink in spec.emit) or "-",
                retry=repr(spec.retry),
                concurrency=spec.concurrency,
                schedule=_describe(source) if isinstance(source, ScheduleSource) else "-",
                next_run=_next_run(source, now),
                last_success=successes.get(spec.name),
                last_failure=failures.get(spec.name),
                failure_rate=rates.get(spec.name, "-"),
                paused_by=paused.get(spec.name),
                queue=source.name if isinstance(source, DatabaseQueue) else None,
                partitioned=isinstance(source, PartitionedStream),
            )
        )
    return rows
