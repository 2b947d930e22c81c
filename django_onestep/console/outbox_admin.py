"""The outbox page: broker messages waiting for the relay, oldest first, with the lag on top.

Read-only: a row leaves the table when the relay published it. A row with an error
is one the broker refused (or whose queue the relay does not know); the relay keeps
trying it with a backoff.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from django_onestep.conf import get_settings
from django_onestep.console.admin_base import ReadOnlyAdmin, pre
from django_onestep.models import OutboxMessage
from django_onestep.outbox.outbox_stats import outbox_lag

__all__ = ["OutboxMessageAdmin"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "target", "message_id", "age", "attempts", "short_error")
    search_fields = ("message_id",)
    ordering = ("id",)
    fields = (
        "target",
        "message_id",
        "created_at",
        "lease_until",
        "attempts",
        "options",
        "envelope_text",
        "error",
    )
    readonly_fields = fields
    change_list_template = "admin/django_onestep/outboxmessage/change_list.html"

    @admin.display(description="waiting")
    def age(self, obj: OutboxMessage) -> str:
        return f"{(timezone.now() - obj.created_at).total_seconds():.1f} s"

    @admin.display(description="last error")
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error if len(obj.last_error) <= 80 else obj.last_error[:77] + "..."

    @admin.display(description="message")
    def envelope_text(self, obj: OutboxMessage) -> str:
        return pre(obj.envelope)

    @admin.display(description="last error")
    def error(self, obj: OutboxMessage) -> str:
        return pre(obj.last_error)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        lags = outbox_lag(get_settings().DATABASE, timezone.now())
        return super().changelist_view(request, {**(extra_context or {}), "outbox_lags": lags})
