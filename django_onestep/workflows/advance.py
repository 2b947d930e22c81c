"""Moving workflows on, inside the database queue's settle transaction.

``advance_workflows`` runs in the same transaction as the ack (or the final failure)
of a step's job: the step's outcome, the workflow's new stage and the next stage's
jobs commit together with the settlement, or not at all. A worker killed before the
commit leaves the job running; its lease expires, the job runs again and this runs
then. A worker killed after the commit has already enqueued the next stage.

Two members of a chord settling at the same moment on two workers both lock the
workflow row first (``SELECT ... FOR UPDATE``; SQLite has one writer at a time): the
second sees the first's step as succeeded, so exactly one of them finds the stage
complete and enqueues the callback. Workflow rows are locked in id order, so two
batches touching the same workflows cannot deadlock on them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django_onestep.workflows.calls import job_payload

__all__ = ["advance_workflows", "cancelled_step", "enqueue_step"]

_FAILURE_KINDS = {"fail": "failed", "dead": "dead-lettered", "aborted": "aborted", "cancelled": "cancelled"}


def enqueue_step(using: str, row: Any, previous: Any) -> None:
    """Insert ``row``'s job in the current transaction and mark the step queued."""
    from django_onestep.dbqueue.enqueue import insert_job

    call = row.call
    row.job_id = insert_job(row.queue, using, job_payload(call, previous), **call["send"])
    row.status = "queued"
    row.save(using=using, update_fields=["job_id", "status"])


def advance_workflows(connection: Any, ended: list[Any]) -> None:
    """Settle hook: record the outcome of every step among ``ended`` and move its workflow on."""
    from django_onestep.models import Workflow, WorkflowStep

    using = connection.alias
    by_job = {op.job_id: op for op in ended}
    if not _any_step(connection, list(by_job)):
        return
    steps = list(WorkflowStep.objects.using(using).filter(job_id__in=list(by_job), status="queued"))
    if not steps:
        return
    per_workflow: dict[int, list[Any]] = defaultdict(list)
    for row in steps:
        per_workflow[row.workflow_id].append(row)
    for workflow_id in sorted(per_workflow):
        workflow = Workflow.objects.using(using).select_for_update().get(id=workflow_id)
        for row in per_workflow[workflow_id]:
            _record(using, row, by_job[row.job_id])
        _move_on(using, workflow)


def _any_step(connection: Any, job_ids: list[int]) -> bool:
    """Is any of ``job_ids`` a queued workflow step? One indexed read, built by hand.

    This runs in every settle transaction and almost always finds nothing; the ORM
    query it guards cost more than the rest of the settlement of a small batch.
    """
    table = connection.ops.quote_name("django_onestep_workflowstep")  # WorkflowStep.Meta.db_table
    marks = ", ".join(["%s"] * len(job_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE job_id IN ({marks}) AND status = 'queued' LIMIT 1", job_ids
        )
        return cursor.fetchone() is not None


def cancelled_step(connection: Any, job_id: int) -> None:
    """Cancel hook: a step's job cancelled before it ran fails its workflow, as a failure would."""
    from django_onestep.dbqueue.settle import SettleOp

    advance_workflows(connection, [SettleOp("cancelled", job_id, "", error="cancelled before it ran")])


def _record(using: str, row: Any, op: Any) -> None:
    from django_onestep.models import WorkflowStep

    if op.kind == "ack":
        result = json.loads(op.result_json) if op.result_json is not None else None
        fields: dict[str, Any] = {"status": "succeeded", "result": result}
    else:
        fields = {"status": "failed", "error": _why(row, op)}
    # conditional: the row lock makes a double settlement impossible, this makes it harmless
    WorkflowStep.objects.using(using).filter(id=row.id, status="queued").update(**fields)


def _why(row: Any, op: Any) -> str:
    error = json.loads(op.error_json) if op.error_json else {}
    detail = (
        f"{error['type']}: {error['message']}" if error.get("type") else (op.error or "no error recorded")
    )
    return f"job {op.job_id} of task {row.task!r} {_FAILURE_KINDS.get(op.kind, op.kind)}: {detail}"


def _move_on(using: str, workflow: Any) -> None:
    from django.utils import timezone

    from django_onestep.models import WorkflowStep

    if workflow.status != "running":
        return  # already failed: a late member's outcome is recorded, nothing more
    # a locking read sees the latest committed rows even under REPEATABLE READ (MySQL's
    # default, if a project sets it), where a plain read would miss a member just settled
    current = list(
        WorkflowStep.objects.using(using)
        .select_for_update()
        .filter(workflow=workflow, role="step", stage=workflow.stage)
        .order_by("index")
    )
    failed = [row for row in current if row.status == "failed"]
    if failed:
        workflow.status = "failed"
        workflow.error = f"stage {workflow.stage}: {failed[0].error}"
        workflow.finished_at = timezone.now()
        workflow.save(using=using, update_fields=["status", "error", "finished_at"])
        for errback in WorkflowStep.objects.using(using).filter(workflow=workflow, role="errback"):
            enqueue_step(using, errback, str(failed[0].job_id))  # Celery's errback(task_id)
        return
    if any(row.status != "succeeded" for row in current):
        return  # members still queued or running
    result = [row.result for row in current] if current[0].in_group else current[0].result
    workflow.stage += 1
    if workflow.stage == workflow.stages:
        workflow.status = "succeeded"
        workflow.result = result
        workflow.finished_at = timezone.now()
        workflow.save(using=using, update_fields=["stage", "status", "result", "finished_at"])
        return
    workflow.save(using=using, update_fields=["stage"])
    for row in WorkflowStep.objects.using(using).filter(workflow=workflow, role="step", stage=workflow.stage):
        enqueue_step(using, row, result)
