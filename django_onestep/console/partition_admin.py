"""The partitions page of a task on a partitioned Redis stream: owners, lag, quarantine.

Reached from the task catalogue (``Tasks`` > ``Partitions``). It reads Redis when the
page is shown (one MGET, one HGETALL and one XINFO GROUPS per partition). Releasing a
quarantined partition needs ``change_pausedtask`` ("Can change task", as pausing) and
is logged (``django_onestep.console``) with the user's name.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from django_onestep.connectors.redis.partition_status import partition_report
from django_onestep.connectors.redis.partitioned import PartitionedStream
from django_onestep.console import task_catalogue

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

__all__ = ["partitions_view"]

RELEASE_PERMISSION = "django_onestep.change_pausedtask"
logger = logging.getLogger("django_onestep.console")


def _stream(task: str) -> PartitionedStream:
    spec = task_catalogue.find_task(task)
    if spec is None or not isinstance(spec.source, PartitionedStream):
        raise Http404(f"no task named {task!r} on a partitioned stream in the project app")
    return spec.source


def partitions_view(model_admin: ModelAdmin[Any], request: HttpRequest, task: str) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    stream = _stream(task)
    if request.method == "POST":
        return _release(model_admin, request, task, stream)
    try:
        rows, error = asyncio.run(partition_report(stream)), None
    except Exception as exc:  # Redis away: say so on the page
        rows, error = [], f"{type(exc).__name__}: {exc}"
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"Partitions of {task}",
        "task": task,
        "stream": stream,
        "rows": rows,
        "error": error,
        "can_release": request.user.has_perm(RELEASE_PERMISSION),
    }
    return TemplateResponse(request, "admin/django_onestep/pausedtask/partitions.html", context)


def _release(
    model_admin: ModelAdmin[Any], request: HttpRequest, task: str, stream: PartitionedStream
) -> HttpResponse:
    if not request.user.has_perm(RELEASE_PERMISSION):
        raise PermissionDenied
    try:
        partition = int(request.POST.get("partition", ""))
    except ValueError:
        raise Http404("no such partition") from None
    if asyncio.run(_release_quarantine(stream, partition)):
        logger.warning(
            "partition %d of %r released from quarantine by %s",
            partition,
            stream.name,
            request.user.get_username(),
        )
        model_admin.message_user(
            request, f"Partition {partition} released: a worker takes it within a second or two."
        )
    else:
        model_admin.message_user(request, f"Partition {partition} was not quarantined.", messages.WARNING)
    return HttpResponseRedirect(reverse("admin:django_onestep_pausedtask_partitions", args=[task]))


async def _release_quarantine(stream: PartitionedStream, partition: int) -> bool:
    try:
        return await stream.release_quarantine(partition)
    finally:
        await stream.connector.close()
