"""Which tasks an admin-defined schedule may name: those of the project app with a queue."""

from __future__ import annotations

from django_onestep.core.base import Sink
from django_onestep.project.project_app import get_project_app

__all__ = ["queue_task_problem"]


def queue_task_problem(app_name: str, task: str) -> str | None:
    """Why ``task`` cannot be scheduled from the admin, or None when it can (or when the
    app is not the project app: a worker TARGET is not known to the web process)."""
    app = get_project_app()
    if app_name != app.name:
        return None
    spec = next((spec for spec in app.tasks if spec.name == task), None)
    if spec is None:
        known = ", ".join(sorted(s.name for s in app.tasks if isinstance(s.source, Sink))) or "none"
        return f"app {app_name!r} has no task {task!r} (tasks with a queue: {known})"
    if not isinstance(spec.source, Sink):
        return f"task {task!r} has no queue source: a schedule here enqueues jobs on its task's queue"
    return None
