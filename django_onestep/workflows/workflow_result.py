"""``WorkflowResult``: what starting a workflow returns; ``get()`` waits for its last stage."""

from __future__ import annotations

import time
from typing import Any

from django_onestep.core.errors import OneStepError

__all__ = ["WorkflowFailed", "WorkflowResult"]

_FIRST_POLL_S = 0.01
_MAX_POLL_S = 0.25


class WorkflowFailed(OneStepError):
    """``get()`` on a workflow that failed; the message says which step and why."""

    def __init__(self, workflow_id: int, error: str) -> None:
        super().__init__(f"workflow {workflow_id} failed: {error}")
        self.workflow_id = workflow_id
        self.error = error


class WorkflowResult:
    """``id``, ``state`` (PENDING, SUCCESS, FAILURE), ``ready()``, ``successful()``,
    ``get(timeout=)`` (the last stage's result: a list for a group or a chord's header),
    ``steps()``."""

    def __init__(self, workflow_id: int, *, using: str = "default") -> None:
        self.workflow_id = int(workflow_id)
        self._using = using

    @property
    def id(self) -> str:
        return str(self.workflow_id)

    def _row(self) -> Any:
        from django_onestep.models import Workflow

        return Workflow.objects.using(self._using).get(id=self.workflow_id)

    @property
    def status(self) -> str:
        """running, succeeded or failed."""
        return str(self._row().status)

    @property
    def state(self) -> str:
        return {"running": "PENDING", "succeeded": "SUCCESS"}.get(self.status, "FAILURE")

    def ready(self) -> bool:
        return self.status != "running"

    def successful(self) -> bool:
        return self.status == "succeeded"

    def failed(self) -> bool:
        return self.status == "failed"

    def steps(self) -> list[Any]:
        from django_onestep.models import WorkflowStep

        return list(WorkflowStep.objects.using(self._using).filter(workflow_id=self.workflow_id))

    def get(self, timeout: float | None = None, propagate: bool = True) -> Any:
        """Wait for the workflow: the last stage's result; ``WorkflowFailed`` (returned
        with ``propagate=False``) when a step failed; ``TimeoutError`` after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay_s = _FIRST_POLL_S
        while True:
            row = self._row()
            if row.status == "succeeded":
                return row.result
            if row.status == "failed":
                failure = WorkflowFailed(self.workflow_id, row.error)
                if propagate:
                    raise failure
                return failure
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"workflow {self.workflow_id} still running after {timeout}s")
            # a workflow's steps take a round trip through workers each: polling with a
            # growing pause costs little against that
            pause = delay_s if deadline is None else min(delay_s, max(deadline - time.monotonic(), 0))
            time.sleep(pause)
            delay_s = min(delay_s * 2, _MAX_POLL_S)

    def __repr__(self) -> str:
        return f"<WorkflowResult: {self.workflow_id}>"
