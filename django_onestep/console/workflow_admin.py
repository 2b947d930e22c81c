"""The workflows page: each chain, group or chord with its steps, their states and why it failed.

Read-only: a workflow moves on only in the settle transactions of its steps' jobs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from django_onestep.console.admin_base import ReadOnlyAdmin, pre, pretty_json
from django_onestep.models import Workflow, WorkflowStep

__all__ = ["WorkflowAdmin"]


class WorkflowStepInline(admin.TabularInline):  # type: ignore[type-arg]
    model = WorkflowStep
    extra = 0
    can_delete = False
    fields = ("role", "stage", "index", "task", "status", "job_link", "result_shown", "error")
    readonly_fields = fields
    ordering = ("-role", "stage", "index")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="job")
    def job_link(self, row: WorkflowStep) -> str:
        if row.job_id is None:
            return "-"
        url = reverse("admin:django_onestep_job_change", args=[row.job_id])
        return format_html('<a href="{}">{}</a>', url, row.job_id)

    @admin.display(description="result")
    def result_shown(self, row: WorkflowStep) -> str:
        return pretty_json(row.result) if row.status == "succeeded" else "-"


@admin.register(Workflow)
class WorkflowAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "status", "progress", "created_at", "finished_at", "error_line")
    list_filter = ("status", "kind")
    ordering = ("-id",)
    fields = ("kind", "status", "progress", "created_at", "finished_at", "error_shown", "result_shown")
    readonly_fields = fields
    inlines = (WorkflowStepInline,)

    @admin.display(description="stage")
    def progress(self, workflow: Workflow) -> str:
        return f"{min(workflow.stage + 1, workflow.stages)} of {workflow.stages}"

    @admin.display(description="why it failed")
    def error_line(self, workflow: Workflow) -> str:
        return workflow.error.splitlines()[0] if workflow.error else ""

    @admin.display(description="why it failed")
    def error_shown(self, workflow: Workflow) -> str:
        return pre(workflow.error)

    @admin.display(description="result")
    def result_shown(self, workflow: Workflow) -> str:
        return pretty_json(workflow.result) if workflow.status == "succeeded" else "-"
