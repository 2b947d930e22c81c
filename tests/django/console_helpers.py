"""Rows the console tests act on."""

from __future__ import annotations

from typing import Any

from django_onestep.core.envelope import Envelope
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import Job
from django_onestep.orm.dead_letters import DatabaseDeadLetters


def dead_letter(
    payload: Any = None,
    *,
    queue: str = "console-q",
    task: str = "charge",
    from_job: bool = True,
    runs: int = 3,
) -> int:
    """A dead letter as a database-queue job leaves it (job ``runs`` claims, now dead)."""
    job_id = DatabaseQueue(queue).send(payload if payload is not None else {"order": 1})
    Job.objects.filter(id=job_id).update(status="dead", attempts=runs)
    envelope = Envelope(
        body={"payload": payload if payload is not None else {"order": 1},
              "failure": {"kind": "error", "exception_type": "ValueError", "message": "bad",
                          "traceback": "Traceback (most recent call last):\n  boom"}},
        meta={"task": task, "source": queue, "original_meta": {"trace": "t-1"},
              "original_attempts": runs - 1},
    )  # fmt: skip
    row = DatabaseDeadLetters(task=task).build_row(envelope, job_id=job_id if from_job else None)
    row.save()
    return int(row.pk)
