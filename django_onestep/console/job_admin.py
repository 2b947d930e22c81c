"""The jobs page and the per-queue overview, with requeue, cancel, run now, delete finished.

Changing jobs needs ``change_job``; deleting finished ones ``delete_job``. Bulk actions
work on the whole filtered selection ("select all") in bounded batches
(``job_actions``), and each writes one summary line to the admin's history.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Case, CharField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.console import job_actions
from django_onestep.console.admin_base import ReadOnlyAdmin, flat, pre, pretty_json
from django_onestep.console.paging import CappedPaginator
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.dbqueue.queue_stats import OPEN_STATUSES, finished_since, queue_lags_s, status_counts
from django_onestep.models import Job
from django_onestep.project.project_app import get_project_app

__all__ = ["JobAdmin"]

THROUGHPUT_WINDOW_S = 300.0
_SHORT_ERROR_CHARS = 80


def queue_tasks() -> dict[str, str]:
    """Queue name -> the project app's task(s) reading it (the job table stores no task)."""
    names: dict[str, list[str]] = {}
    for spec in get_project_app().tasks:
        if isinstance(spec.source, DatabaseQueue):
            names.setdefault(spec.source.name, []).append(spec.name)
    return {queue: ", ".join(tasks) for queue, tasks in names.items()}


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "queue",
        "task",
        "status",
        "priority",
        "runs",
        "available_at",
        "duration",
        "short_error",
        "created_at",
    )
    list_filter = ("status", "queue")
    search_fields = ("=id", "=queue")  # see get_search_results: one indexed lookup a search
    ordering = ("-id",)
    paginator = CappedPaginator
    actions = (
        "requeue_selected", "cancel_selected", "abort_selected", "run_now_selected", "delete_finished_selected",
    )  # fmt: skip
    change_list_template = "admin/django_onestep/job/change_list.html"
    fields = (
        ("id", "queue", "task", "status"),
        ("priority", "runs", "reclaims", "duration"),
        "payload_pretty",
        "meta_pretty",
        "progress_pretty",
        "result_pretty",
        ("available_at", "created_at", "updated_at"),
        ("expires_at", "abort_requested_at"),
        ("claimed_at", "finished_at", "first_failed_at"),
        ("lease_owner", "lease_until", "claim_token"),
        "dedupe_key",
        "last_error_pre",
        "error_traceback_pre",
    )
    readonly_fields = flat(fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        # the task name in SQL: one mapping a request, and no state on this shared admin
        whens = [When(queue=queue, then=Value(task)) for queue, task in queue_tasks().items()]
        task_name = Case(*whens, default=Value("-"), output_field=CharField()) if whens else Value("-")
        rows: QuerySet[Job] = super().get_queryset(request).annotate(task_name=task_name)
        return rows

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Job], search_term: str
    ) -> tuple[QuerySet[Job], bool]:
        # Django ORs every field (id = 7 OR queue = '7'), which no index serves: a number
        # is a job id, anything else a queue name
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(id=int(term)), False
        return queryset.filter(queue=term), False

    # ----- columns ------------------------------------------------------------------

    @admin.display(description="task")
    def task(self, obj: Job) -> str:
        return str(getattr(obj, "task_name", "-"))

    @admin.display(description="runs", ordering="attempts")
    def runs(self, obj: Job) -> int:
        return obj.attempts  # claims, the last one included: what a dead letter calls runs

    @admin.display(description="duration (s)")
    def duration(self, obj: Job) -> str:
        if obj.claimed_at is None or obj.finished_at is None:
            return "-"
        return f"{(obj.finished_at - obj.claimed_at).total_seconds():.3f}"

    @admin.display(description="last error")
    def short_error(self, obj: Job) -> str:
        line = obj.last_error.strip().splitlines()[-1] if obj.last_error.strip() else ""
        return line if len(line) <= _SHORT_ERROR_CHARS else line[: _SHORT_ERROR_CHARS - 3] + "..."

    @admin.display(description="payload")
    def payload_pretty(self, obj: Job) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="meta")
    def meta_pretty(self, obj: Job) -> str:
        return pretty_json(obj.meta)

    @admin.display(description="last error")
    def last_error_pre(self, obj: Job) -> str:
        return pre(obj.last_error)

    @admin.display(description="progress")
    def progress_pretty(self, obj: Job) -> str:
        return pretty_json(obj.progress) if obj.progress is not None else "-"

    @admin.display(description="result")
    def result_pretty(self, obj: Job) -> str:
        return pretty_json(obj.result) if obj.result is not None else "-"

    @admin.display(description="traceback")
    def error_traceback_pre(self, obj: Job) -> str:
        traceback = obj.error.get("traceback", "") if isinstance(obj.error, dict) else ""
        return pre(str(traceback)) if traceback else "-"

    # ----- actions ------------------------------------------------------------------

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_onestep.change_job")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "delete finished" deletes in batches instead
        return actions

    def _done(self, request: HttpRequest, count: int, what: str, flag: int = CHANGE) -> None:
        if count:
            assert request.user.pk is not None  # admin views are for logged-in staff only
            LogEntry.objects.create(
                user_id=request.user.pk,
                content_type_id=ContentType.objects.get_for_model(Job).pk,
                object_id=None,
                object_repr=f"{count} job(s)",
                action_flag=flag,
                change_message=f"{what} {count} job(s)",
            )
        self.message_user(request, f"{what} {count} job(s).", messages.SUCCESS if count else messages.WARNING)

    @admin.action(
        description="Requeue selected failed or dead jobs (fresh attempt budget)", permissions=["operate"]
    )
    def requeue_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._done(request, job_actions.requeue(queryset, by=request.user.get_username()), "Requeued")

    @admin.action(description="Cancel selected queued jobs", permissions=["operate"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._done(request, job_actions.cancel(queryset, by=request.user.get_username()), "Cancelled")

    @admin.action(description="Abort selected running jobs (cooperative stop)", permissions=["operate"])
    def abort_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._done(request, job_actions.abort(queryset), "Asked to stop")

    @admin.action(description="Run selected delayed jobs now", permissions=["operate"])
    def run_now_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._done(request, job_actions.run_now(queryset), "Made due now")

    @admin.action(description="Delete selected finished jobs", permissions=["delete"])
    def delete_finished_selected(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._done(request, job_actions.delete_finished(queryset), "Deleted", DELETION)

    # ----- queue overview -----------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.overview_view)
        return [path("overview/", view, name="django_onestep_job_overview"), *super().get_urls()]

    def overview_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        using = get_settings().DATABASE
        now = timezone.now()
        counts = status_counts(using)
        lags = queue_lags_s(using, now)
        done = finished_since(using, now, THROUGHPUT_WINDOW_S)
        tasks = queue_tasks()
        rows = [
            {
                "queue": queue,
                "task": tasks.get(queue, "-"),
                "counts": [counts.get(queue, {}).get(status, 0) for status in OPEN_STATUSES],
                "oldest": timedelta(seconds=round(lags[queue])) if queue in lags else None,
                "done": done.get(queue, 0),
                "per_minute": round(done.get(queue, 0) * 60 / THROUGHPUT_WINDOW_S, 1),
            }
            for queue in sorted(set(counts) | set(lags) | set(done) | set(tasks))
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Queues",
            "statuses": OPEN_STATUSES,
            "rows": rows,
            "window_min": int(THROUGHPUT_WINDOW_S // 60),
        }
        return TemplateResponse(request, "admin/django_onestep/job/overview.html", context)
