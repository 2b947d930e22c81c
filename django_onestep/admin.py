"""Registers the admin pages: the operations console (``django_onestep.console``) and the
schedules list (``django_onestep.schedules_db``)."""

from __future__ import annotations

from django.contrib import admin

from django_onestep.console import (
    cursor_admin,
    dead_letter_admin,
    job_admin,
    outbox_admin,
    submission_admin,
    table_admins,
    task_admin,
    worker_admin,
    workflow_admin,
)
from django_onestep.models import Schedule
from django_onestep.project.schedule_tasks import queue_task_problem
from django_onestep.schedules_db.schedule_admin import ScheduleAdmin

__all__ = [
    "cursor_admin",
    "dead_letter_admin",
    "job_admin",
    "outbox_admin",
    "submission_admin",
    "table_admins",
    "task_admin",
    "worker_admin",
    "workflow_admin",
]


@admin.register(Schedule)
class ProjectScheduleAdmin(ScheduleAdmin):
    """The schedules list, checking admin-defined schedules against the project app's tasks."""

    def task_problem(self, app: str, task: str) -> str | None:
        return queue_task_problem(app, task)
