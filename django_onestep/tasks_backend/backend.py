"""``DatabaseBackend``: Django's Tasks framework on the database queue.

``TASKS = {"default": {"BACKEND": "django_onestep.tasks_backend.DatabaseBackend",
"QUEUES": ["default"], "OPTIONS": {...}}}``. ``enqueue`` writes a job in the caller's
transaction (no job if it rolls back); ``onestep_worker`` runs the jobs beside the
project's own tasks (``runner.py``). ``OPTIONS``:

* ``DATABASE``: the database alias of the jobs (default ``ONESTEP["DATABASE"]``);
* ``CONCURRENCY``: runs at once per queue in one worker (default 4);
* ``RETRY``: the retry policy of every task, as in ``ONESTEP["DEFAULT_RETRY"]``
  (default: none); ``TASK_RETRY``: ``{"module.function": policy}`` per task;
* ``LEASE_S``: the lease of each run (default ``ONESTEP["LEASE_S"]``).
"""

from __future__ import annotations

from typing import Any

from django_onestep.tasks_backend.compat import (
    BaseTaskBackend,
    Task,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    normalize_json,
    task_enqueued,
)
from django_onestep.tasks_backend.results import build_result, load_task_job

__all__ = ["DatabaseBackend", "queue_row_name"]

_OPTIONS = ("DATABASE", "CONCURRENCY", "RETRY", "TASK_RETRY", "LEASE_S")


def queue_row_name(queue_name: str) -> str:
    """The ``Job.queue`` of a framework queue: apart from the project's own queues."""
    return f"django.tasks:{queue_name}"


class DatabaseBackend(BaseTaskBackend):  # type: ignore[misc]
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        from django_onestep.conf import get_settings
        from django_onestep.core.errors import ConfigurationError

        super().__init__(alias, params)
        unknown = sorted(set(self.options) - set(_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"TASKS[{alias!r}]['OPTIONS']: unknown option {unknown[0]!r} (options: {', '.join(_OPTIONS)})"
            )
        self.using: str = self.options.get("DATABASE") or get_settings().DATABASE

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        from django.utils import timezone

        from django_onestep.dbqueue.enqueue import insert_job

        self.validate_task(task)
        payload = {
            "task": task.module_path,
            "args": normalize_json(args),
            "kwargs": normalize_json(kwargs),
            "backend": self.alias,
        }
        enqueued_at = timezone.now()
        job_id = insert_job(
            queue_row_name(task.queue_name),
            self.using,
            payload,
            priority=task.priority,
            run_at=task.run_after,
        )
        result = TaskResult(
            task=task,
            id=str(job_id),
            status=TaskResultStatus.READY,
            enqueued_at=enqueued_at,
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=payload["args"],
            kwargs=payload["kwargs"],
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        try:
            job_id = int(result_id)
        except (TypeError, ValueError):
            raise TaskResultDoesNotExist(result_id) from None
        row = load_task_job(job_id, self.using)
        if row is None:
            raise TaskResultDoesNotExist(result_id)
        return build_result(row, self.alias)
