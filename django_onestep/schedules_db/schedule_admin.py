"""The schedules list in the admin: pause, resume and "run now" for every schedule.

Schedules defined in code are read-only here (the code is their source of truth);
pausing one, resuming it or asking for one extra run reaches every running worker
within a few seconds, through its ``Schedule`` row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from django_onestep.models import Schedule

if TYPE_CHECKING:
    _ScheduleAdminBase = admin.ModelAdmin[Schedule]
else:
    _ScheduleAdminBase = admin.ModelAdmin

__all__ = ["ScheduleAdmin"]


@admin.register(Schedule)
class ScheduleAdmin(_ScheduleAdminBase):
    list_display = (
        "key",
        "definition",
        "timezone",
        "paused",
        "last_fire_at",
        "next_fire_at",
        "last_outcome",
        "run_requested_at",
    )
    list_filter = ("paused", "app", "last_outcome")
    search_fields = ("key", "task")
    ordering = ("key",)
    show_full_result_count = False
    actions = ("pause_schedules", "resume_schedules", "run_schedules_now")
    readonly_fields = [field.name for field in Schedule._meta.fields if field.name != "id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a code-defined schedule's row is created by the first worker serving it

    @admin.action(description="Pause the selected schedules", permissions=["change"])
    def pause_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        count = queryset.update(paused=True, updated_at=timezone.now())
        self.message_user(request, f"{count} schedule(s) paused: no worker fires them until resumed.")

    @admin.action(description="Resume the selected schedules", permissions=["change"])
    def resume_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        count = queryset.update(paused=False, updated_at=timezone.now())
        self.message_user(request, f"{count} schedule(s) resumed from their next tick.")

    @admin.action(description="Run the selected schedules now (once)", permissions=["change"])
    def run_schedules_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        now = timezone.now()
        count = queryset.update(run_requested_at=now, updated_at=now)
        self.message_user(
            request,
            f"{count} run(s) requested: a running worker starts each within a few seconds.",
            messages.SUCCESS,
        )
