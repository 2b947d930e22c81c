"""Writing a new workflow: its rows and the jobs of its first stage, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django_onestep.workflows.calls import NO_INPUT, StepCall
from django_onestep.workflows.workflow_result import WorkflowResult

__all__ = ["Stage", "start_workflow"]


class Stage:
    """One stage: a single call, or a group (whose result is the list of its results)."""

    def __init__(self, calls: Sequence[StepCall], *, group: bool) -> None:
        if not calls:
            raise ValueError("a workflow stage needs at least one task (an empty group runs nothing)")
        self.calls = list(calls)
        self.group = group


def start_workflow(
    kind: str, stages: Sequence[Stage], *, on_error: Sequence[StepCall] = ()
) -> WorkflowResult:
    """Create the workflow and enqueue its first stage, in the caller's transaction."""
    from django.db import transaction
    from django.utils import timezone

    from django_onestep.models import Workflow, WorkflowStep
    from django_onestep.workflows.advance import enqueue_step

    if not stages:
        raise ValueError(f"{kind}() needs at least one task")
    using = stages[0].calls[0].using
    for call in [c for s in stages for c in s.calls] + list(on_error):
        if call.using != using:
            raise ValueError(
                f"{kind}(): task {call.task!r} is on database {call.using!r}, the others on {using!r}; "
                "a workflow's queues must share one database"
            )
    with transaction.atomic(using=using):
        workflow = Workflow.objects.using(using).create(
            kind=kind, stages=len(stages), created_at=timezone.now()
        )
        rows = [
            _row(workflow, "step", number, index, call, stage.group)
            for number, stage in enumerate(stages)
            for index, call in enumerate(stage.calls)
        ]
        rows += [_row(workflow, "errback", 0, index, call, False) for index, call in enumerate(on_error)]
        WorkflowStep.objects.using(using).bulk_create(rows)
        for row in WorkflowStep.objects.using(using).filter(workflow=workflow, role="step", stage=0):
            enqueue_step(using, row, NO_INPUT)
    return WorkflowResult(workflow.pk, using=using)


def _row(workflow: Any, role: str, stage: int, index: int, call: StepCall, group: bool) -> Any:
    from django_onestep.models import WorkflowStep

    return WorkflowStep(
        workflow=workflow,
        role=role,
        stage=stage,
        index=index,
        in_group=group,
        task=call.task,
        queue=call.queue,
        call=call.to_json(),
    )
