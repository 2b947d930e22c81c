"""Django's Tasks framework: ``django.tasks`` on Django 6.x, the ``django-tasks`` backport on 5.2.

Everything else in this package imports the framework's names from here, so the choice
is made once. The two expose the same public API under these names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_onestep.core.errors import MissingExtraError

__all__ = [
    "BaseTaskBackend",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "normalize_json",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]

# Typed as Any: the two implementations' annotations differ, and this package only
# passes the framework's objects through.
if TYPE_CHECKING:
    BaseTaskBackend: Any
    Task: Any
    TaskContext: Any
    TaskError: Any
    TaskResult: Any
    TaskResultDoesNotExist: Any
    TaskResultStatus: Any
    normalize_json: Any
    task_backends: Any
    task_enqueued: Any
    task_finished: Any
    task_started: Any
else:
    try:  # Django 6.0+
        from django.tasks import task_backends
        from django.tasks.backends.base import BaseTaskBackend
        from django.tasks.base import Task, TaskContext, TaskError, TaskResult, TaskResultStatus
        from django.tasks.exceptions import TaskResultDoesNotExist
        from django.tasks.signals import task_enqueued, task_finished, task_started
        from django.utils.json import normalize_json
    except ImportError:
        try:
            from django_tasks import task_backends
            from django_tasks.backends.base import BaseTaskBackend
            from django_tasks.base import Task, TaskContext, TaskError, TaskResult, TaskResultStatus
            from django_tasks.exceptions import TaskResultDoesNotExist
            from django_tasks.signals import task_enqueued, task_finished, task_started
            from django_tasks.utils import normalize_json
        except ImportError as exc:  # Django 5.2 without the backport
            raise MissingExtraError("django-tasks", "tasks") from exc


def framework_name() -> str:
    """``django.tasks`` or ``django_tasks``: which implementation was picked."""
    module: Any = Task
    return str(module.__module__).rsplit(".", 1)[0]
