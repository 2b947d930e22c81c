"""Record enqueued work instead of writing it: ``with capture_enqueued() as jobs: ...``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django_onestep.testing._patch import patched_enqueue, split_payload

__all__ = ["CapturedJob", "EnqueueCapture", "capture_enqueued"]


@dataclass(frozen=True)
class CapturedJob:
    task: str
    queue: str
    payload: Any
    meta: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # delay_s, priority, dedupe_key...


class EnqueueCapture:
    """The jobs enqueued while capturing, in order."""

    def __init__(self) -> None:
        self.jobs: list[CapturedJob] = []
        self._ids = itertools.count(1)

    def record(self, spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        payload, meta, options = split_payload(args, kwargs)
        self.jobs.append(CapturedJob(spec.name, getattr(spec.source, "name", ""), payload, meta, options))
        return next(self._ids)

    def for_task(self, task: Any) -> list[CapturedJob]:
        """Jobs of ``task`` (its name or the decorated function)."""
        name = task if isinstance(task, str) else task.task_spec.name
        return [job for job in self.jobs if job.task == name]

    def payloads(self, task: Any = None) -> list[Any]:
        jobs = self.jobs if task is None else self.for_task(task)
        return [job.payload for job in jobs]

    def clear(self) -> None:
        self.jobs.clear()

    def __len__(self) -> int:
        return len(self.jobs)


@contextmanager
def capture_enqueued(app: Any = None) -> Iterator[EnqueueCapture]:
    """Capture ``handler.enqueue``/``aenqueue`` and the task queues' ``send``/``publish``.

    Nothing is written; a sync ``enqueue`` returns a fake increasing job id.
    """
    if app is None:
        from django_onestep.project.project_app import get_project_app

        app = get_project_app()
    capture = EnqueueCapture()

    def make_sync(spec: Any) -> Callable[..., Any]:
        def enqueue(*args: Any, **kwargs: Any) -> int:
            return capture.record(spec, args, kwargs)

        return enqueue

    def make_async(spec: Any) -> Callable[..., Any]:
        async def aenqueue(*args: Any, **kwargs: Any) -> int:
            return capture.record(spec, args, kwargs)

        return aenqueue

    with patched_enqueue(app, make_sync, make_async):
        yield capture
