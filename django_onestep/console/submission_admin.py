"""The batch submissions pages: progress, rate, ETA and status of each submission, its
chunks with their attempts and errors, and the actions cancel, retry failed chunks and
purge. Acting needs ``change_submissionrecord`` (purge: ``delete_submissionrecord``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from django_onestep.console.admin_base import ReadOnlyAdmin, flat, pre, pretty_json
from django_onestep.console.paging import CappedPaginator
from django_onestep.models import SubmissionChunk, SubmissionRecord
from django_onestep.project.project_app import get_project_app
from django_onestep.submissions.operator_actions import retry_failed_chunks
from django_onestep.submissions.purge import purge_ended
from django_onestep.submissions.source import SubmissionSource
from django_onestep.submissions.submission_handle import cancel_submission, eta_of, rate_of

__all__ = ["SubmissionChunkAdmin", "SubmissionRecordAdmin"]

_SHORT_ERROR_CHARS = 80


def short(text: str) -> str:
    line = text.strip().splitlines()[-1] if text.strip() else ""
    return line if len(line) <= _SHORT_ERROR_CHARS else line[: _SHORT_ERROR_CHARS - 3] + "..."


def source_strategies() -> dict[str, str]:
    """Submission queue -> the strategy its SubmissionSource in the project app reserves by."""
    return {
        spec.source.name: str(spec.source.strategy)
        for spec in get_project_app().tasks
        if isinstance(spec.source, SubmissionSource)
    }


@admin.register(SubmissionRecord)
class SubmissionRecordAdmin(ReadOnlyAdmin):
    list_display = ("id", "queue", "status", "progress_bar", "ops", "rate", "eta", "strategy", "created_at")
    list_filter = ("status", "queue")
    ordering = ("-id",)
    paginator = CappedPaginator
    actions = ("cancel_selected", "retry_failed_selected", "purge_selected")
    fields = (
        ("id", "queue", "status", "strategy"),
        ("progress_bar", "ops", "rate", "eta"),
        ("chunk_size", "max_chunk_attempts", "collect_errors"),
        ("created_at", "finished_at"),
        ("failed_chunk_index", "chunk_list"),
        "error_pre",
        "metadata_pretty",
    )
    readonly_fields = flat(fields)

    @admin.display(description="progress")
    def progress_bar(self, obj: SubmissionRecord) -> str:
        total = obj.chunks_total or 1
        percent = 100 * obj.chunks_done // total if obj.chunks_total else 100
        return format_html(
            '<progress value="{}" max="{}"></progress> {}% ({}/{} chunks)',
            obj.chunks_done,
            total,
            percent,
            obj.chunks_done,
            obj.chunks_total,
        )

    @admin.display(description="ops done")
    def ops(self, obj: SubmissionRecord) -> str:
        return f"{obj.ops_done:,} / {obj.ops_total:,}"

    @admin.display(description="rate")
    def rate(self, obj: SubmissionRecord) -> str:
        rate = rate_of(obj)
        return "-" if rate is None else f"{rate:,.1f} ops/s"

    @admin.display(description="ETA")
    def eta(self, obj: SubmissionRecord) -> str:
        eta = eta_of(obj)
        return "-" if eta is None else str(eta).split(".")[0]

    @admin.display(description="strategy")
    def strategy(self, obj: SubmissionRecord) -> str:
        return source_strategies().get(obj.queue, "-")

    @admin.display(description="chunks")
    def chunk_list(self, obj: SubmissionRecord) -> str:
        url = reverse("admin:django_onestep_submissionchunk_changelist")
        return format_html('<a href="{}?submission__id__exact={}">chunks</a>', url, obj.pk)

    @admin.display(description="error")
    def error_pre(self, obj: SubmissionRecord) -> str:
        return pre(obj.error)

    @admin.display(description="metadata")
    def metadata_pretty(self, obj: SubmissionRecord) -> str:
        return pretty_json(obj.metadata)

    # ----- actions ------------------------------------------------------------------

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_onestep.change_submissionrecord")

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # purge deletes chunks and files in batches instead
        return actions

    def _each(self, request: HttpRequest, queryset: QuerySet[SubmissionRecord], act: Any, what: str) -> None:
        using = queryset.db
        count = sum(1 for submission_id in queryset.values_list("id", flat=True) if act(using, submission_id))
        level = messages.SUCCESS if count else messages.WARNING
        self.message_user(request, f"{what} {count} submission(s).", level)

    @admin.action(description="Cancel selected running submissions", permissions=["operate"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[SubmissionRecord]) -> None:
        self._each(request, queryset, cancel_submission, "Cancelled")

    @admin.action(description="Retry the failed chunks of selected submissions", permissions=["operate"])
    def retry_failed_selected(self, request: HttpRequest, queryset: QuerySet[SubmissionRecord]) -> None:
        self._each(request, queryset, retry_failed_chunks, "Retried the failed chunks of")

    @admin.action(
        description="Purge selected ended submissions (chunks, results, files)", permissions=["delete"]
    )
    def purge_selected(self, request: HttpRequest, queryset: QuerySet[SubmissionRecord]) -> None:
        self._each(request, queryset, purge_ended, "Purged")


@admin.register(SubmissionChunk)
class SubmissionChunkAdmin(ReadOnlyAdmin):
    list_display = ("id", "submission", "index", "status", "ops", "attempts", "short_error", "finished_at")
    list_filter = ("status",)
    ordering = ("submission_id", "index")
    paginator = CappedPaginator
    fields = (
        ("id", "submission", "index", "status"),
        ("ops", "attempts", "reserved_until", "finished_at"),
        "payload_file",
        "error_pre",
    )
    readonly_fields = flat(fields)

    @admin.display(description="error")
    def short_error(self, obj: SubmissionChunk) -> str:
        return short(obj.error)

    @admin.display(description="error")
    def error_pre(self, obj: SubmissionChunk) -> str:
        return pre(obj.error)
