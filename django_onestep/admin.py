"""Modest, read-only admin pages for the ``django_onestep`` tables.

Every list is ordered by an indexed column and skips the full result count (tables
such as ``Job`` grow to millions of rows). Details are read-only; dead letters show
their payload as pretty JSON and their traceback. Actions (replay, requeue...) come
with the full admin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from django_onestep.models import Cursor, DeadLetter, Job, Schedule, StateEntry, TaskMetric, WorkerHeartbeat
from django_onestep.orm import lossless_json
from django_onestep.orm.telemetry import histogram_percentile
from django_onestep.project.schedule_tasks import queue_task_problem
from django_onestep.schedules_db.schedule_admin import ScheduleAdmin

MAX_PRETTY_CHARS = 100_000

if TYPE_CHECKING:
    from django.db.models import Model

    # django-stubs makes ModelAdmin generic in its model; Django's class is not subscriptable
    _ModelAdmin = admin.ModelAdmin[Model]
else:
    _ModelAdmin = admin.ModelAdmin


def pretty_json(value: Any) -> str:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > MAX_PRETTY_CHARS:
        text = text[:MAX_PRETTY_CHARS] + "\n... (truncated)"
    return format_html('<pre class="onestep-json">{}</pre>', text)


def pre(text: str) -> str:
    return format_html('<pre class="onestep-text">{}</pre>', text or "")


def _flat(fields: tuple[Any, ...]) -> tuple[str, ...]:
    """``fields`` rows (names or tuples of names) as one tuple of names."""
    return tuple(name for row in fields for name in (row if isinstance(row, tuple) else (row,)))


class ReadOnlyAdmin(_ModelAdmin):
    """List and inspect; nothing is added or edited by hand here."""

    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "queue",
        "status",
        "priority",
        "attempts",
        "available_at",
        "lease_owner",
        "created_at",
    )
    list_filter = ("status", "queue")
    search_fields = ("=id", "=queue", "=dedupe_key")
    ordering = ("-id",)
    fields = (
        ("id", "queue", "status"),
        ("priority", "attempts", "reclaims"),
        "payload_pretty",
        "meta_pretty",
        ("available_at", "created_at", "updated_at"),
        ("claimed_at", "finished_at", "first_failed_at"),
        ("lease_owner", "lease_until", "claim_token"),
        "dedupe_key",
        "last_error_pre",
    )
    readonly_fields = _flat(fields)

    @admin.display(description="payload")
    def payload_pretty(self, obj: Job) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="meta")
    def meta_pretty(self, obj: Job) -> str:
        return pretty_json(obj.meta)

    @admin.display(description="last error")
    def last_error_pre(self, obj: Job) -> str:
        return pre(obj.last_error)


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "task",
        "source",
        "failure_kind",
        "exception_type",
        "attempts",
        "status",
        "last_failed_at",
    )
    list_filter = ("status", "failure_kind", "task")
    search_fields = ("=task", "exception_type", "=job_id")
    ordering = ("-id",)
    fields = (
        ("id", "app", "task", "source"),
        ("status", "attempts", "job_id"),
        ("failure_kind", "exception_type"),
        "message",
        "payload_pretty",
        "original_meta_pretty",
        "traceback_pre",
        ("first_failed_at", "last_failed_at", "resolved_at"),
    )
    readonly_fields = _flat(fields)

    @admin.display(description="payload")
    def payload_pretty(self, obj: DeadLetter) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="original meta")
    def original_meta_pretty(self, obj: DeadLetter) -> str:
        return pretty_json(obj.original_meta)

    @admin.display(description="traceback")
    def traceback_pre(self, obj: DeadLetter) -> str:
        return pre(obj.traceback)


class _KeyValueAdmin(ReadOnlyAdmin):
    list_display = ("key", "short_value", "version", "updated_at")
    search_fields = ("key",)
    ordering = ("key",)
    fields = ("key", "value_pretty", "version", "updated_at")
    readonly_fields = fields

    @admin.display(description="value")
    def short_value(self, obj: StateEntry | Cursor) -> str:
        return obj.value_json if len(obj.value_json) <= 80 else obj.value_json[:77] + "..."

    @admin.display(description="value")
    def value_pretty(self, obj: StateEntry | Cursor) -> str:
        try:
            return pretty_json(lossless_json.loads(obj.value_json))
        except ValueError:
            return pre(obj.value_json)


@admin.register(StateEntry)
class StateEntryAdmin(_KeyValueAdmin):
    pass


@admin.register(Cursor)
class CursorAdmin(_KeyValueAdmin):
    pass


@admin.register(TaskMetric)
class TaskMetricAdmin(ReadOnlyAdmin):
    list_display = (
        "window_start",
        "app",
        "task",
        "succeeded",
        "failed",
        "retried",
        "dead_lettered",
        "p50",
        "p95",
    )
    list_filter = ("app", "task")
    ordering = ("-window_start", "task")
    readonly_fields = [f.name for f in TaskMetric._meta.fields]

    @admin.display(description="p50 ≤ s")
    def p50(self, obj: TaskMetric) -> float | None:
        return histogram_percentile(list(obj.histogram or []), 0.5)

    @admin.display(description="p95 ≤ s")
    def p95(self, obj: TaskMetric) -> float | None:
        return histogram_percentile(list(obj.histogram or []), 0.95)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("worker_id", "app", "host", "pid", "status", "in_flight", "started_at", "last_seen")
    list_filter = ("status", "app")
    search_fields = ("worker_id", "host")
    ordering = ("-last_seen",)
    readonly_fields = [f.name for f in WorkerHeartbeat._meta.fields]


@admin.register(Schedule)
class ProjectScheduleAdmin(ScheduleAdmin):
    """The schedules list, checking admin-defined schedules against the project app's tasks."""

    def task_problem(self, app: str, task: str) -> str | None:
        return queue_task_problem(app, task)
