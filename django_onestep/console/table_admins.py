"""Read-only pages of the queue, state, metric and heartbeat tables."""

from __future__ import annotations

from django.contrib import admin

from django_onestep.console.admin_base import ReadOnlyAdmin, flat, pre, pretty_json
from django_onestep.models import Cursor, Job, StateEntry, TaskMetric, WorkerHeartbeat
from django_onestep.orm import lossless_json
from django_onestep.orm.telemetry import histogram_percentile

__all__ = ["CursorAdmin", "JobAdmin", "StateEntryAdmin", "TaskMetricAdmin", "WorkerHeartbeatAdmin"]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "queue",
        "status",
        "priority",
        "runs",
        "available_at",
        "lease_owner",
        "created_at",
    )
    list_filter = ("status", "queue")
    search_fields = ("=id", "=queue", "=dedupe_key")
    ordering = ("-id",)
    fields = (
        ("id", "queue", "status"),
        ("priority", "runs", "reclaims"),
        "payload_pretty",
        "meta_pretty",
        ("available_at", "created_at", "updated_at"),
        ("claimed_at", "finished_at", "first_failed_at"),
        ("lease_owner", "lease_until", "claim_token"),
        "dedupe_key",
        "last_error_pre",
    )
    readonly_fields = flat(fields)

    @admin.display(description="runs", ordering="attempts")
    def runs(self, obj: Job) -> int:
        return obj.attempts  # claims, the last one included: what a dead letter calls runs

    @admin.display(description="payload")
    def payload_pretty(self, obj: Job) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="meta")
    def meta_pretty(self, obj: Job) -> str:
        return pretty_json(obj.meta)

    @admin.display(description="last error")
    def last_error_pre(self, obj: Job) -> str:
        return pre(obj.last_error)


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
