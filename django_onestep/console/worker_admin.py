"""The workers page: live, stale or stopped from the heartbeats; drain and stop by row.

An action only writes ``requested`` on the worker's row; the worker reads it back at
its next heartbeat (every ``ONESTEP["WORKER_HEARTBEAT_S"]``) and acts, so it works
across hosts with nothing but the database. Stopped workers are folded away unless
the "state" filter asks for them (and pruned by the workers after
``WORKER_HEARTBEAT_RETENTION_S``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.timesince import timesince

from django_onestep.conf import get_settings
from django_onestep.console.admin_base import ReadOnlyAdmin
from django_onestep.models import WorkerHeartbeat

__all__ = ["WorkerHeartbeatAdmin"]


def stale_after_s() -> float:
    """A worker not seen for this long is stale: the health threshold, or 3 missed beats."""
    conf = get_settings()
    return float(conf.HEALTH["WORKER_STALE_S"] or 3 * conf.WORKER_HEARTBEAT_S)


class WorkerStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "Live"), ("stale", "Stale"), ("stopped", "Stopped"), ("all", "All, stopped too")]

    def choices(self, changelist: Any) -> Any:
        # the default ("not stopped") is the first choice, where Django puts "All"
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Not stopped",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        fresh_since = timezone.now() - timedelta(seconds=stale_after_s())
        running = queryset.exclude(status="stopped")
        match self.value():
            case None:
                return running
            case "live":
                return running.filter(last_seen__gte=fresh_since)
            case "stale":
                return running.filter(last_seen__lt=fresh_since)
            case "stopped":
                return queryset.filter(status="stopped")
        return queryset


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = (
        "worker_id",
        "state",
        "app",
        "host",
        "pid",
        "task_list",
        "in_flight",
        "uptime",
        "version",
        "requested",
        "last_seen",
    )
    list_filter = (WorkerStateFilter, "app")
    search_fields = ("=worker_id", "=host")
    ordering = ("-last_seen",)
    actions = ("drain_selected", "stop_selected")
    readonly_fields = [f.name for f in WorkerHeartbeat._meta.fields]

    @admin.display(description="state")
    def state(self, obj: WorkerHeartbeat) -> str:
        if obj.status == "stopped":
            return "stopped"
        fresh = timezone.now() - obj.last_seen <= timedelta(seconds=stale_after_s())
        return "live" if fresh else "stale"

    @admin.display(description="tasks")
    def task_list(self, obj: WorkerHeartbeat) -> str:
        return ", ".join(str(name) for name in obj.tasks or [])

    @admin.display(description="uptime")
    def uptime(self, obj: WorkerHeartbeat) -> str:
        return timesince(obj.started_at, obj.last_seen)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_onestep.change_workerheartbeat")

    def _request(self, request: HttpRequest, queryset: QuerySet[WorkerHeartbeat], what: str) -> None:
        rows = queryset.exclude(status="stopped")
        changed = list(rows)
        count = rows.update(requested=what)
        user_id = request.user.pk
        assert user_id is not None  # admin views are for logged-in staff only
        if changed:
            LogEntry.objects.log_actions(user_id, changed, CHANGE, change_message=f"Requested {what}")
        beat_s = get_settings().WORKER_HEARTBEAT_S
        self.message_user(
            request,
            f"Asked {count} worker(s) to {what}; each acts at its next heartbeat (within {beat_s:g} s).",
            messages.SUCCESS if count else messages.WARNING,
        )

    @admin.action(description="Drain selected workers (finish the work in hand, then exit)",
                  permissions=["operate"])  # fmt: skip
    def drain_selected(self, request: HttpRequest, queryset: QuerySet[WorkerHeartbeat]) -> None:
        self._request(request, queryset, WorkerHeartbeat.Request.DRAIN)

    @admin.action(description="Stop selected workers (as on SIGTERM)", permissions=["operate"])
    def stop_selected(self, request: HttpRequest, queryset: QuerySet[WorkerHeartbeat]) -> None:
        self._request(request, queryset, WorkerHeartbeat.Request.STOP)
