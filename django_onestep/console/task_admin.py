"""The task catalogue page, with pause, resume and run now.

Pausing writes a ``PausedTask`` row that every worker of the app reads with its next
heartbeat; resuming deletes it. "Run now" enqueues a payload (a JSON form) on the
task's database queue. Pausing and resuming need ``change_pausedtask`` ("Can change
task"), running now ``add_job``; each is written to the admin's history.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.console.admin_base import ReadOnlyAdmin
from django_onestep.console.forms import PayloadForm
from django_onestep.console.partition_admin import partitions_view
from django_onestep.console.task_catalogue import catalogue, find_task
from django_onestep.dbqueue.enqueue import insert_job
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import Job, PausedTask
from django_onestep.project.project_app import get_project_app

__all__ = ["PausedTaskAdmin"]

PAUSE_PERMISSION = "django_onestep.change_pausedtask"
RUN_PERMISSION = "django_onestep.add_job"


@admin.register(PausedTask)
class PausedTaskAdmin(ReadOnlyAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<str:task>/pause/", wrap(self.pause_view), name="django_onestep_pausedtask_pause"),
            path("<str:task>/resume/", wrap(self.resume_view), name="django_onestep_pausedtask_resume"),
            path("<str:task>/run/", wrap(self.run_view), name="django_onestep_pausedtask_run"),
            path(
                "<str:task>/partitions/",
                wrap(functools.partial(partitions_view, self)),
                name="django_onestep_pausedtask_partitions",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Tasks",
            "rows": catalogue(),
            "can_pause": request.user.has_perm(PAUSE_PERMISSION),
            "can_run": request.user.has_perm(RUN_PERMISSION),
            "heartbeat_s": get_settings().WORKER_HEARTBEAT_S,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/django_onestep/pausedtask/catalogue.html", context)

    def _task(self, request: HttpRequest, task: str, permission: str) -> Any:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        spec = find_task(task)
        if spec is None:
            raise Http404(f"no task named {task!r} in the project app")
        return spec

    def _back(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:django_onestep_pausedtask_changelist"))

    def _log(self, request: HttpRequest, row: Any, flag: int, message: str) -> None:
        assert request.user.pk is not None  # admin views are for logged-in staff only
        LogEntry.objects.log_actions(request.user.pk, [row], flag, change_message=message, single_object=True)

    def pause_view(self, request: HttpRequest, task: str) -> HttpResponse:
        self._task(request, task, PAUSE_PERMISSION)
        if request.method == "POST":
            row, _ = PausedTask.objects.get_or_create(
                app=get_project_app().name, task=task,
                defaults={"paused_by": request.user.get_username(), "paused_at": timezone.now()},
            )  # fmt: skip
            self._log(request, row, ADDITION, "Paused")
            self.message_user(request, f"Task {task} paused: workers stop fetching at their next heartbeat.")
        return self._back()

    def resume_view(self, request: HttpRequest, task: str) -> HttpResponse:
        self._task(request, task, PAUSE_PERMISSION)
        if request.method == "POST":
            row = PausedTask.objects.filter(app=get_project_app().name, task=task).first()
            if row is not None:
                self._log(request, row, CHANGE, "Resumed")
                row.delete()
            self.message_user(request, f"Task {task} resumed: workers fetch again at their next heartbeat.")
        return self._back()

    def run_view(self, request: HttpRequest, task: str) -> HttpResponse:
        spec = self._task(request, task, RUN_PERMISSION)
        if not isinstance(spec.source, DatabaseQueue):
            self.message_user(request, f"Task {task} does not read a database queue: run it from code.",
                              messages.WARNING)  # fmt: skip
            return self._back()
        form = PayloadForm(request.POST or None, initial={"payload": "{}"})
        if request.method == "POST" and form.is_valid():
            queue = spec.source
            job_id = insert_job(queue.name, queue.using, form.cleaned_data["payload"])
            self._log(request, Job.objects.get(id=job_id), ADDITION, f"Enqueued from the admin for {task}")
            self.message_user(request, f"Job #{job_id} enqueued on {queue.name} for {task}.")
            return self._back()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Run {task} now",
            "task": task,
            "queue": spec.source.name,
            "form": form,
        }
        return TemplateResponse(request, "admin/django_onestep/pausedtask/run.html", context)
