"""A job row of a framework task as the framework's ``TaskResult``.

Status: queued is READY (also between retries), running is RUNNING, done is
SUCCESSFUL, and every other end (failed, dead, cancelled, expired, aborted) is FAILED.
``errors`` holds the last failure (the row keeps one); ``worker_ids`` has one entry per
attempt, so ``attempts`` counts runs as the framework defines it.
"""

from __future__ import annotations

import builtins
from typing import Any

from django_onestep.tasks_backend.compat import Task, TaskError, TaskResult, TaskResultStatus

__all__ = ["build_result", "load_task_job"]

_STATUS = {
    "queued": TaskResultStatus.READY,
    "running": TaskResultStatus.RUNNING,
    "done": TaskResultStatus.SUCCESSFUL,
}
_FIELDS = (
    "id", "queue", "status", "priority", "payload", "result", "error", "attempts", "created_at",
    "claimed_at", "finished_at", "lease_owner",
)  # fmt: skip


def load_task_job(job_id: int, using: str) -> dict[str, Any] | None:
    from django_onestep.models import Job

    row: dict[str, Any] | None = (
        Job.objects.using(using).filter(pk=job_id, queue__startswith="django.tasks:").values(*_FIELDS).first()
    )
    return row


def exception_path(error: dict[str, Any]) -> str:
    """``module.Class`` of the failure: the traceback's last line names it as Python
    prints it (builtins without a module)."""
    lines = [line for line in str(error.get("traceback") or "").splitlines() if line.strip()]
    name = lines[-1].split(":", 1)[0].strip() if lines else str(error.get("type") or "Exception")
    if "." not in name and isinstance(getattr(builtins, name, None), type):
        return f"builtins.{name}"
    return name


def _task(path: str, row: dict[str, Any], alias: str) -> Task:
    from django.utils.module_loading import import_string

    task = import_string(path)
    queue_name = str(row["queue"]).split(":", 1)[1]
    changed: Task = task.using(priority=row["priority"], queue_name=queue_name, backend=alias)
    return changed


def build_result(row: dict[str, Any], alias: str) -> TaskResult:
    payload = row["payload"] or {}
    status = _STATUS.get(str(row["status"]), TaskResultStatus.FAILED)
    errors = []
    if status == TaskResultStatus.FAILED and isinstance(row["error"], dict):
        errors.append(
            TaskError(
                exception_class_path=exception_path(row["error"]), traceback=str(row["error"]["traceback"])
            )
        )
    result = TaskResult(
        task=_task(str(payload["task"]), row, alias),
        id=str(row["id"]),
        status=status,
        enqueued_at=row["created_at"],
        started_at=row["claimed_at"],
        finished_at=row["finished_at"],
        last_attempted_at=row["claimed_at"],
        args=payload.get("args", []),
        kwargs=payload.get("kwargs", {}),
        backend=alias,
        errors=errors,
        worker_ids=[str(row["lease_owner"] or "django-onestep")] * int(row["attempts"]),
    )
    if status == TaskResultStatus.SUCCESSFUL:
        object.__setattr__(result, "_return_value", row["result"])
    return result
