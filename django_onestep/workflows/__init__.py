"""Workflows kept in the database: chains, groups and chords of database-queue jobs.

A workflow is a list of stages; each stage is one step or a group of steps. The stage
after it is enqueued in the transaction that settles its last step (``advance.py``),
so a worker killed at any moment neither loses nor doubles a step. The Celery names
(``chain``, ``group``, ``chord``) are in ``django_onestep.celery``; ``step()`` makes a
step of an ``@app.task`` handler whose source is a ``DatabaseQueue``.
"""

from __future__ import annotations

from django_onestep.workflows.calls import StepCall, step
from django_onestep.workflows.start import start_workflow
from django_onestep.workflows.workflow_result import WorkflowFailed, WorkflowResult

__all__ = ["StepCall", "WorkflowFailed", "WorkflowResult", "install", "start_workflow", "step"]


def install() -> None:
    """Advance workflows in every settle transaction of this process's database queues,
    and fail them when a step's queued job is cancelled."""
    from django_onestep.dbqueue.settle import register_settle_hook
    from django_onestep.results.cancel import register_cancel_hook
    from django_onestep.workflows.advance import advance_workflows, cancelled_step

    register_settle_hook(advance_workflows)
    register_cancel_hook(cancelled_step)
