"""Module-level ``@task`` functions for the Django Tasks backend tests (both tiers).

``wagtail_like`` is shaped like a third-party library's task (Wagtail's
``update_reference_index``): a plain ``@task()`` in its own module, knowing nothing
of the backend, called with keyword arguments.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any

from django_onestep.tasks_backend.compat import TaskContext

try:
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore,no-redef]
except ImportError:
    from django_tasks import task


@task()
def add(a: int, b: int) -> int:
    return a + b


@task()
async def async_multiply(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a * b


@task()
def record(label: str) -> str:
    """Appends ``label`` to the file named by ONESTEP_TEST_RUN_LOG (order of runs)."""
    path = os.environ.get("ONESTEP_TEST_RUN_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{label}\n".encode())
        finally:
            os.close(fd)
    return label


@task()
def fails(message: str) -> None:
    raise ValueError(message)


class FlakyError(RuntimeError):
    pass


_flaky_runs: dict[str, int] = {}


@task()
def flaky(key: str, failures: int) -> int:
    """Fails ``failures`` times per ``key`` in this process, then returns the run count."""
    _flaky_runs[key] = _flaky_runs.get(key, 0) + 1
    if _flaky_runs[key] <= failures:
        raise FlakyError(f"run {_flaky_runs[key]} of {key}")
    return _flaky_runs[key]


_meeting = threading.Barrier(2, timeout=10)


@task()
def meet(label: str) -> str:
    """Returns only once a second run waits too: two runs at once, or BrokenBarrierError."""
    _meeting.wait()
    return label


@task(takes_context=True)
def with_context(context: TaskContext, label: str) -> dict[str, Any]:
    return {"id": context.task_result.id, "attempt": context.attempt, "label": label}


@task()
def wagtail_like(*, object_id: int, model: str = "pages.page") -> dict[str, Any]:
    return {"indexed": f"{model}:{object_id}"}


@task()
def kill_worker_once(marker: str) -> str:
    """SIGKILLs its own worker the first time (``marker`` does not exist yet)."""
    if not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write("killed\n")
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
    return "survived"
