"""The schedules list in the admin: pause, resume and "run now" for every schedule,
and schedules defined here.

Schedules defined in code are read-only here (the code is their source of truth);
pausing one, resuming it or asking for one extra run reaches every running worker
within a few seconds, through its ``Schedule`` row. A schedule added here names a task
with a queue, a cron expression or an interval, a timezone and a JSON payload; running
workers pick it up within a few seconds (``admin_defined.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from django_onestep.core.errors import ConfigurationError
from django_onestep.models import Schedule
from django_onestep.schedules_db.admin_defined import source_for_rule
from django_onestep.schedules_db.coordinator import schedule_definition

if TYPE_CHECKING:
    _ScheduleAdminBase = admin.ModelAdmin[Schedule]
else:
    _ScheduleAdminBase = admin.ModelAdmin

__all__ = ["ScheduleAdmin", "ScheduleForm"]


_RULE_FIELDS = ("key", "app", "task", "expression", "interval_s", "timezone", "payload")
_EDITABLE = (*_RULE_FIELDS, "paused", "start_at", "end_at", "run_requested_at")
_STATE = (
    "origin",
    "definition",
    "last_fire_at",
    "next_fire_at",
    "last_outcome",
    "last_outcome_at",
    "running_owner",
    "running_until",
    "updated_at",
)


class ScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    """Checks an admin-defined schedule as a worker will read it, one line per problem."""

    #: ``(app, task) -> problem or None``, set by ``ScheduleAdmin.get_form``
    task_problem: Any = None

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if "expression" not in self.fields:
            return data  # a code-defined schedule: nothing here is editable
        expression, interval_s = (data.get("expression") or "").strip(), data.get("interval_s")
        data["expression"] = expression
        if expression and interval_s is not None:
            self.add_error("interval_s", "give a cron expression or an interval, not both")
        elif not expression and interval_s is None and data.get("run_requested_at") is None:
            self.add_error(
                "expression", "give a cron expression, an interval, or (for a one-off) a run at time"
            )
        else:
            try:
                source_for_rule(
                    key=data.get("key") or "schedule",
                    expression=expression,
                    interval_s=interval_s,
                    timezone=data.get("timezone") or "UTC",
                    payload=data.get("payload"),
                )
            except ConfigurationError as exc:
                field = "expression" if expression and "cron" in str(exc) else "interval_s"
                field = "timezone" if "timezone" in str(exc) else field
                self.add_error(field, str(exc))
        start_at, end_at = data.get("start_at"), data.get("end_at")
        if start_at and end_at and end_at <= start_at:
            self.add_error("end_at", "the end must come after the start")
        check = type(self).task_problem
        if check is not None and data.get("app") and data.get("task"):
            problem = check(data["app"], data["task"])
            if problem:
                self.add_error("task", problem)
        return data


class ScheduleAdmin(_ScheduleAdminBase):
    form = ScheduleForm
    list_display = (
        "key",
        "origin",
        "task",
        "definition",
        "paused",
        "last_fire_at",
        "next_fire_at",
        "last_outcome",
        "run_requested_at",
    )
    list_filter = ("origin", "paused", "app", "last_outcome")
    search_fields = ("key", "task")
    ordering = ("key",)
    show_full_result_count = False
    actions = ("pause_schedules", "resume_schedules", "run_schedules_now")

    def task_problem(self, app: str, task: str) -> str | None:
        """Why ``task`` cannot be scheduled here; the project's admin checks its app."""
        return None

    def _defined_here(self, obj: Schedule | None) -> bool:
        return obj is None or obj.origin == Schedule.Origin.ADMIN

    def get_fields(self, request: HttpRequest, obj: Schedule | None = None) -> Any:
        return (*_EDITABLE, *_STATE) if obj is not None else _EDITABLE

    def get_readonly_fields(self, request: HttpRequest, obj: Schedule | None = None) -> Any:
        return _STATE if self._defined_here(obj) else (*_EDITABLE, *_STATE)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        form.task_problem = self.task_problem  # type: ignore[attr-defined]  # a ScheduleForm subclass
        return form

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        from django_onestep.conf import get_settings

        return {
            "app": get_settings().APP_NAME,
            "timezone": "UTC",
            **super().get_changeform_initial_data(request),
        }

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        if not self._defined_here(obj if change else None):
            return  # a code-defined schedule changes in code
        obj.origin = Schedule.Origin.ADMIN
        source = source_for_rule(
            key=obj.key,
            expression=obj.expression,
            interval_s=obj.interval_s,
            timezone=obj.timezone or "UTC",
            payload=obj.payload,
        )
        definition = schedule_definition(source) if source is not None else "one-off"
        if definition != obj.definition:
            obj.definition, obj.next_fire_at = definition, None  # a new rule starts afresh
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)

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
