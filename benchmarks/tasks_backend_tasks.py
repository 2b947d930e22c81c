"""The ``@task`` functions benchmarks/tasks_backend.py runs through both backends."""

from typing import Any

try:
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore,no-redef]
except ImportError:
    from django_tasks import task


@task()
def noop(n: int) -> dict[str, Any]:
    return {"n": n}
