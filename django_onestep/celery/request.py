"""``self`` of a ``bind=True`` task: ``self.request`` and ``self.retry()`` as in Celery."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django_onestep.celery.exceptions import MaxRetriesExceededError, Retry

if TYPE_CHECKING:
    from django_onestep.celery.shared_task import CeleryTask

__all__ = ["BoundTask", "Request"]


@dataclass(frozen=True)
class Request:
    """What Celery code reads from ``self.request``; ``id`` is the job's id."""

    id: int | None = None
    retries: int = 0
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    task: str = ""
    called_directly: bool = True


class BoundTask:
    """The task as its own first argument, for one run."""

    def __init__(self, task: CeleryTask, request: Request, ctx: Any = None) -> None:
        self.task = task
        self.request = request
        self._ctx = ctx

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def max_retries(self) -> int | None:
        return self.task.options.max_retries

    def retry(
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: datetime | None = None,
        countdown: float | None = None,
        max_retries: int | None = None,
    ) -> Retry:
        """Raise ``Retry`` (the job runs again after ``countdown``), or past ``max_retries``
        raise ``exc`` (or ``MaxRetriesExceededError``): the job fails for good."""
        if args is not None or kwargs is not None:
            raise TypeError(
                f"task {self.name!r}: retry() with new args/kwargs is not supported; "
                "enqueue a new job with .delay(...) and return"
            )
        retries = self.request.retries
        if not self.task.retry_policy.retries_left(retries, max_retries):
            if exc is not None:
                raise exc
            limit = self.task.options.max_retries if max_retries is None else max_retries
            raise MaxRetriesExceededError(f"task {self.name!r}: {retries} retries done, max_retries={limit}")
        if eta is not None:
            from django.utils import timezone

            countdown = max(0.0, (eta - timezone.now()).total_seconds())
        delay_s = self.task.options.default_retry_delay_s if countdown is None else float(countdown)
        error = Retry(f"retry in {delay_s:g} s" + (f": {exc!r}" if exc else ""), countdown_s=delay_s, exc=exc)
        if throw:
            raise error
        return error

    def update_state(self, state: str | None = None, meta: dict[str, Any] | None = None) -> None:
        """Celery's progress report: ``meta`` becomes the job's progress (``.info``)."""
        set_progress = getattr(self._ctx, "set_progress", None)
        if set_progress is None:
            raise RuntimeError(
                f"task {self.name!r}: update_state() needs the job's context (it is unavailable when the "
                "task is called directly or runs in a child process)"
            )
        values = dict(meta or {})
        current = values.pop("current", 0)
        total = values.pop("total", None)
        set_progress(current, total, **({"state": state} if state else {}), **values)
