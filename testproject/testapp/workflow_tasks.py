"""Tasks the workflow tests chain, group and chord; each records its runs as ``Run`` rows."""

from __future__ import annotations

from typing import Any

from django_onestep.celery import shared_task
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.project.project_app import get_project_app

from .models import Run


class Broken(Exception):
    pass


@shared_task
def wf_add(x, y=0):
    Run.objects.create(label=str(x + y), task="wf_add")
    return x + y


@shared_task
def wf_mul(x, y):
    Run.objects.create(label=str(x * y), task="wf_mul")
    return x * y


@shared_task
def wf_total(numbers):
    Run.objects.create(label=str(sum(numbers)), task="wf_total")
    return sum(numbers)


@shared_task
def wf_fail(x):
    Run.objects.create(label=str(x), task="wf_fail")
    raise Broken(f"member {x} broke")


@shared_task
def wf_errback(job_id, label="errback"):
    Run.objects.create(label=f"{label}:{job_id}", task="wf_errback")


double_queue = DatabaseQueue("workflow-double")
summary_queue = DatabaseQueue("workflow-summary")


@get_project_app().task(source=double_queue)
def wf_double(ctx: Any, payload: Any) -> Any:
    Run.objects.create(label=str(payload), task="wf_double")
    return payload * 2


@get_project_app().task(source=summary_queue)
def wf_summary(ctx: Any, payload: Any) -> Any:
    Run.objects.create(label=repr(payload), task="wf_summary")
    return {"sum": sum(payload), "count": len(payload)}


TASKS = [t.name for t in (wf_add, wf_mul, wf_total, wf_fail, wf_errback)] + ["wf_double", "wf_summary"]
