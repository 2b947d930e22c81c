"""Read-only pages of the state and metric tables (and the key-value page cursors extend)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from django_onestep.conf import get_settings
from django_onestep.console.admin_base import ReadOnlyAdmin, pre, pretty_json
from django_onestep.console.metrics_dashboard import RANGES, task_panels
from django_onestep.console.secret_masking import mask_secrets
from django_onestep.live.job_events import live_dashboard_path
from django_onestep.models import Cursor, StateEntry, TaskMetric
from django_onestep.orm import lossless_json
from django_onestep.orm.telemetry import histogram_percentile

__all__ = ["KeyValueAdmin", "StateEntryAdmin", "TaskMetricAdmin"]

DASHBOARD_REFRESH_S = 30  # a meta refresh: it works with JavaScript off


class KeyValueAdmin(ReadOnlyAdmin):
    list_display = ("key", "short_value", "version", "updated_at")
    search_fields = ("key",)
    ordering = ("key",)
    fields = ("key", "value_pretty", "version", "updated_at")
    readonly_fields = fields

    @admin.display(description="value")
    def short_value(self, obj: StateEntry | Cursor) -> str:
        try:
            text = json.dumps(mask_secrets(lossless_json.loads(obj.value_json)), default=str)
        except ValueError:
            text = obj.value_json
        return text if len(text) <= 80 else text[:77] + "..."

    @admin.display(description="value")
    def value_pretty(self, obj: StateEntry | Cursor) -> str:
        try:
            return pretty_json(lossless_json.loads(obj.value_json))
        except ValueError:
            return pre(obj.value_json)


@admin.register(StateEntry)
class StateEntryAdmin(KeyValueAdmin):
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
    change_list_template = "admin/django_onestep/taskmetric/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("dashboard/", view, name="django_onestep_taskmetric_dashboard"), *super().get_urls()]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        range_name = request.GET.get("range", "1h")
        if range_name not in RANGES:
            range_name = "1h"
        task = request.GET.get("task") or None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Task metrics",
            "ranges": list(RANGES),
            "range": range_name,
            "task": task or "",
            "tasks": TaskMetric.objects.order_by().values_list("task", flat=True).distinct(),
            "panels": task_panels(range_name, task),
            "refresh_s": DASHBOARD_REFRESH_S,
            "live_socket": live_dashboard_path(),
            "flush_s": get_settings().METRICS_FLUSH_INTERVAL_S,
        }
        return TemplateResponse(request, "admin/django_onestep/taskmetric/dashboard.html", context)

    @admin.display(description="p50 ≤ s")
    def p50(self, obj: TaskMetric) -> float | None:
        return histogram_percentile(list(obj.histogram or []), 0.5)

    @admin.display(description="p95 ≤ s")
    def p95(self, obj: TaskMetric) -> float | None:
        return histogram_percentile(list(obj.histogram or []), 0.95)
