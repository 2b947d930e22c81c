"""The dead-letter page: inspect, replay, discard, edit the payload and replay.

Permissions: viewing needs ``view_deadletter``; discarding needs ``change_deadletter``;
replaying (as is, or edited) needs the custom ``replay_deadletter``. Without one, its
action is not offered, and a forged request is refused. Every resolution is written to
the admin's history (``LogEntry``) and to the row (who, when, how).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from django_onestep.console import dead_letter_actions
from django_onestep.console.admin_base import ReadOnlyAdmin, flat, pre, pretty_json
from django_onestep.console.forms import PayloadForm
from django_onestep.console.secret_masking import mask_secrets, restore_masked
from django_onestep.models import DeadLetter

__all__ = ["DeadLetterAdmin"]

REPLAY_PERMISSION = "django_onestep.replay_deadletter"
DISCARD_PERMISSION = "django_onestep.change_deadletter"


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "task",
        "source",
        "failure_kind",
        "exception_type",
        "runs",
        "status",
        "resolution",
        "last_failed_at",
    )
    list_filter = ("status", "resolution", "failure_kind", "task")
    search_fields = ("=task", "exception_type", "=job_id")
    date_hierarchy = "last_failed_at"
    ordering = ("-id",)
    actions = ("replay_selected", "discard_selected", "edit_and_replay")
    change_form_template = "admin/django_onestep/deadletter/change_form.html"
    fields = (
        ("id", "app", "task", "source"),
        ("status", "runs", "job_id"),
        ("failure_kind", "exception_type"),
        "message",
        "payload_pretty",
        "original_meta_pretty",
        "traceback_pre",
        ("first_failed_at", "last_failed_at"),
        ("resolution", "resolved_by", "resolved_at", "replay_job"),
    )
    readonly_fields = flat(fields)

    # ----- columns and detail ---------------------------------------------------------

    @admin.display(description="runs", ordering="attempts")
    def runs(self, obj: DeadLetter) -> int:
        # the row keeps onestep's count of earlier deliveries; the job counts every run
        return obj.attempts + 1

    @admin.display(description="payload")
    def payload_pretty(self, obj: DeadLetter) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="original meta")
    def original_meta_pretty(self, obj: DeadLetter) -> str:
        return pretty_json(obj.original_meta)

    @admin.display(description="traceback")
    def traceback_pre(self, obj: DeadLetter) -> str:
        return pre(obj.traceback)

    @admin.display(description="replayed as")
    def replay_job(self, obj: DeadLetter) -> str:
        if obj.replay_job_id is None:
            return "-"
        url = reverse("admin:django_onestep_job_change", args=[obj.replay_job_id])
        return format_html('<a href="{}">job #{}</a>', url, obj.replay_job_id)

    # ----- permissions --------------------------------------------------------------

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPLAY_PERMISSION)

    def has_discard_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(DISCARD_PERMISSION)

    # ----- list actions -------------------------------------------------------------

    @admin.action(description="Replay selected dead letters", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        outcome = dead_letter_actions.replay(queryset, by=request.user.get_username())
        self._report(request, outcome, "replayed", "Replayed with a fresh attempt budget")

    @admin.action(description="Discard selected dead letters", permissions=["discard"])
    def discard_selected(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        outcome = dead_letter_actions.discard(queryset, by=request.user.get_username())
        self._report(request, outcome, "discarded", "Discarded")

    @admin.action(description="Edit the payload and replay (one dead letter)", permissions=["replay"])
    def edit_and_replay(
        self, request: HttpRequest, queryset: QuerySet[DeadLetter]
    ) -> HttpResponseRedirect | None:
        ids = list(queryset.order_by("id").values_list("id", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(request, "Edit and replay works on one dead letter: select exactly one.",
                              messages.WARNING)  # fmt: skip
            return None
        return HttpResponseRedirect(reverse("admin:django_onestep_deadletter_edit_replay", args=ids))

    def _report(
        self, request: HttpRequest, outcome: dead_letter_actions.Outcome, verb: str, log_message: str
    ) -> None:
        user_id = request.user.pk
        assert user_id is not None  # admin views are for logged-in staff only
        step = dead_letter_actions.BATCH_SIZE
        for start in range(0, len(outcome.resolved), step):
            ids = outcome.resolved[start : start + step]
            LogEntry.objects.log_actions(
                user_id, DeadLetter.objects.filter(id__in=ids), CHANGE, change_message=log_message
            )
        level = messages.SUCCESS if outcome.resolved else messages.WARNING
        text = f"{len(outcome.resolved)} dead letter(s) {verb}."
        if outcome.skipped:
            text += (
                f" {len(outcome.skipped)} left as they were (already resolved or claimed, or not from a "
                "database queue: replay those with app.replay_task_dead_letters)."
            )
        self.message_user(request, text, level)

    # ----- one-row views ------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/replay/", wrap(self.replay_view), name="django_onestep_deadletter_replay"),
            path(
                "<path:object_id>/discard/", wrap(self.discard_view), name="django_onestep_deadletter_discard"
            ),
            path(
                "<path:object_id>/edit-replay/",
                wrap(self.edit_replay_view),
                name="django_onestep_deadletter_edit_replay",
            ),
            *super().get_urls(),
        ]

    def _one(self, request: HttpRequest, object_id: str, allowed: bool) -> QuerySet[DeadLetter]:
        if not allowed:
            raise PermissionDenied
        get_object_or_404(DeadLetter, pk=object_id)
        return DeadLetter.objects.filter(pk=object_id)

    def _back(self, object_id: str) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:django_onestep_deadletter_change", args=[object_id]))

    def replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return self._back(object_id)
        self.replay_selected(request, self._one(request, object_id, self.has_replay_permission(request)))
        return self._back(object_id)

    def discard_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return self._back(object_id)
        self.discard_selected(request, self._one(request, object_id, self.has_discard_permission(request)))
        return self._back(object_id)

    def edit_replay_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        rows = self._one(request, object_id, self.has_replay_permission(request))
        row = rows.get()
        confirming = False
        if request.method == "POST":
            form = PayloadForm(request.POST)
            if form.is_valid():
                if request.POST.get("confirm") == "yes":
                    payload = restore_masked(form.cleaned_data["payload"], row.payload)
                    outcome = dead_letter_actions.replay(
                        rows, by=request.user.get_username(), payload=payload
                    )
                    self._report(request, outcome, "replayed", "Payload edited, then replayed")
                    return self._back(object_id)
                confirming = True
        else:
            form = PayloadForm(initial={"payload": PayloadForm.initial_text(mask_secrets(row.payload))})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": row,
            "form": form,
            "confirming": confirming,
            "new_payload": pretty_json(form.cleaned_data["payload"]) if confirming else "",
            "title": f"Edit and replay dead letter #{row.id}",
        }
        return TemplateResponse(request, "admin/django_onestep/deadletter/edit_replay.html", context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        row = DeadLetter.objects.filter(pk=object_id).only("status", "job_id", "source").first()
        pending = row is not None and row.status == DeadLetter.Status.PENDING
        context = {
            **(extra_context or {}),
            "can_replay": pending
            and row is not None
            and dead_letter_actions.replayable(row)
            and self.has_replay_permission(request),
            "can_discard": pending and self.has_discard_permission(request),
        }
        return super().change_view(request, object_id, form_url, context)
