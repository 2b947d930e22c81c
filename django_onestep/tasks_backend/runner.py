"""Running framework tasks in ``onestep_worker``, beside the app's own tasks.

``install_task_backends(app)`` adds one ``@app.task`` per queue of every
``DatabaseBackend`` in ``TASKS``; its handler imports the ``@task`` function named in
the job, sends ``task_started``, calls it (``Task.call`` runs an async function too),
sends ``task_finished`` and returns the value, which the queue stores as the result. A
failure is raised again, so the app's retries, dead letters and admin apply as to any
task.
"""

from __future__ import annotations

import functools
import traceback
from typing import TYPE_CHECKING, Any

from django_onestep.core.declarative.retry_spec import build_retry_policy
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.retry import FailureInfo, NoRetry, RetryAction, RetryPolicy, resolve_retry_action
from django_onestep.core.validation import positive_int, positive_number
from django_onestep.tasks_backend.backend import DatabaseBackend, queue_row_name
from django_onestep.tasks_backend.compat import (
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultStatus,
    normalize_json,
    task_finished,
    task_started,
)

if TYPE_CHECKING:
    from django_onestep.core.envelope import Envelope
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["install_task_backends", "run_framework_task"]


class PerTaskRetry:
    """The backend's ``RETRY`` policy, or the ``TASK_RETRY`` entry of the job's task."""

    def __init__(self, default: RetryPolicy, per_task: dict[str, RetryPolicy]) -> None:
        self.default = default
        self.per_task = per_task

    def on_error(self, envelope: Envelope, exc: Exception, failure: FailureInfo) -> RetryAction:
        body = envelope.body if isinstance(envelope.body, dict) else {}
        policy = self.per_task.get(str(body.get("task")), self.default)
        return resolve_retry_action(policy, envelope, exc, failure)


def _retry(backend: DatabaseBackend) -> RetryPolicy:
    where = f"TASKS[{backend.alias!r}]['OPTIONS']"
    default = build_retry_policy(backend.options.get("RETRY"), f"{where}['RETRY']") or NoRetry()
    per_task_spec = backend.options.get("TASK_RETRY") or {}
    if not isinstance(per_task_spec, dict):
        raise ConfigurationError(f"{where}['TASK_RETRY'] must map 'module.function' to a retry policy")
    per_task = {
        str(path): build_retry_policy(spec, f"{where}['TASK_RETRY'][{path!r}]") or NoRetry()
        for path, spec in per_task_spec.items()
    }
    return PerTaskRetry(default, per_task) if per_task else default


def run_framework_task(ctx: Any, payload: dict[str, Any]) -> Any:
    """The handler of every framework queue (sync: ``Task.call`` runs async functions too)."""
    from django.utils import timezone
    from django.utils.module_loading import import_string

    from django_onestep.tasks_backend.results import _task

    alias = str(payload.get("backend", "default"))
    job_id = int(getattr(ctx.delivery, "job_id", 0))
    task = import_string(str(payload["task"]))
    row = {"queue": ctx.task.source.name, "priority": task.priority}
    now = timezone.now()
    result = TaskResult(
        task=_task(str(payload["task"]), row, alias),
        id=str(job_id),
        status=TaskResultStatus.RUNNING,
        enqueued_at=None,
        started_at=now,
        finished_at=None,
        last_attempted_at=now,
        args=payload.get("args", []),
        kwargs=payload.get("kwargs", {}),
        backend=alias,
        errors=[],
        worker_ids=[getattr(ctx.delivery.queue, "worker_id", "django-onestep")] * (ctx.current.attempts + 1),
    )
    sender = DatabaseBackend
    task_started.send(sender=sender, task_result=result)
    try:
        if task.takes_context:
            value = task.call(TaskContext(task_result=result), *result.args, **result.kwargs)
        else:
            value = task.call(*result.args, **result.kwargs)
        value = normalize_json(value)
    except BaseException as exc:
        object.__setattr__(result, "finished_at", timezone.now())
        object.__setattr__(result, "status", TaskResultStatus.FAILED)
        path = f"{type(exc).__module__}.{type(exc).__qualname__}"
        result.errors.append(
            TaskError(exception_class_path=path, traceback="".join(traceback.format_exception(exc)))
        )
        task_finished.send(sender=sender, task_result=result)
        raise
    object.__setattr__(result, "finished_at", timezone.now())
    object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
    object.__setattr__(result, "_return_value", value)
    task_finished.send(sender=sender, task_result=result)
    return value


def _backends() -> list[DatabaseBackend]:
    from django.conf import settings

    from django_onestep.tasks_backend.compat import task_backends

    found = []
    for alias, params in (getattr(settings, "TASKS", None) or {}).items():
        if str(params.get("BACKEND", "")).startswith("django_onestep.tasks_backend"):
            backend = task_backends[alias]
            if isinstance(backend, DatabaseBackend):
                found.append(backend)
    return found


def install_task_backends(app: OneStepApp) -> list[str]:
    """Register a runner per queue of each ``DatabaseBackend``; the new task names."""
    from django_onestep.dbqueue.queue import DatabaseQueue

    names: list[str] = []
    for backend in _backends():
        where = f"TASKS[{backend.alias!r}]['OPTIONS']"
        concurrency = positive_int(f"{where}['CONCURRENCY']", backend.options.get("CONCURRENCY", 4))
        lease_s = backend.options.get("LEASE_S")
        if lease_s is not None:
            lease_s = positive_number(f"{where}['LEASE_S']", lease_s)
        retry = _retry(backend)
        for queue_name in sorted(backend.queues):
            name = f"django.tasks:{backend.alias}:{queue_name}"
            if app.runtime.find_task(name) is not None:
                continue
            source = DatabaseQueue(queue_row_name(queue_name), using=backend.using, lease_s=lease_s)
            handler = functools.partial(run_framework_task)
            app.task(name=name, source=source, concurrency=concurrency, retry=retry)(handler)
            names.append(name)
    return names
