"""``@shared_task``: a Celery-style task on the project app's database queue.

The decorated function stays callable as a plain function (``send_email(1)`` runs it
here and now, as Celery does) and gains ``delay``, ``apply_async``, ``delay_on_commit``,
``s``/``si`` and ``AsyncResult``. Each task gets its own ``DatabaseQueue``, named after
the task, so a worker claims only the jobs it has a handler for.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django_onestep.celery.arguments import json_payload
from django_onestep.celery.celery_options import CeleryTaskOptions, parse_task_options
from django_onestep.celery.request import BoundTask, Request
from django_onestep.celery.retry_policy import CeleryRetryPolicy
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import positive_number

__all__ = ["CeleryTask", "shared_task"]

_CALL_OPTIONS = ("countdown", "eta", "expires", "priority", "queue", "task_id", "link", "link_error")


def _job_id(ctx: Any) -> int | None:
    job_id = getattr(ctx, "job_id", None)  # a child process's context
    if job_id is None:
        job_id = getattr(getattr(ctx, "delivery", None), "job_id", None)
    return job_id


class CeleryTask:
    def __init__(self, run: Callable[..., Any], options: CeleryTaskOptions) -> None:
        self.run = run
        self.options = options
        self.name = options.name or f"{run.__module__}.{run.__name__}"
        self.retry_policy = CeleryRetryPolicy(options)
        functools.update_wrapper(self, run)
        self._register()

    def _register(self) -> None:
        from django_onestep.dbqueue.queue import DatabaseQueue
        from django_onestep.project.project_app import get_project_app

        self.queue = DatabaseQueue(
            self.name, rate_limit=None if self.options.rate_limit is None else str(self.options.rate_limit)
        )
        task = self
        options = self.options

        async def async_handler(ctx: Any, payload: Any) -> Any:
            return await task.run_payload(ctx, payload)

        def sync_handler(ctx: Any, payload: Any) -> Any:
            return task.run_payload(ctx, payload)

        handler: Callable[..., Any] = async_handler if inspect.iscoroutinefunction(self.run) else sync_handler

        # A child process (executor="process") imports the handler by this path:
        # the module's attribute is this object, whose run_payload is the handler.
        handler.__module__ = self.run.__module__
        handler.__qualname__ = f"{self.run.__qualname__}.run_payload"
        handler.__doc__ = self.run.__doc__
        in_child = options.time_limit_s is not None or options.soft_time_limit_s is not None
        get_project_app().task(
            name=self.name,
            source=self.queue,
            retry=self.retry_policy,
            concurrency=options.concurrency,
            timeout_s=options.soft_time_limit_s,
            executor="process" if in_child else "thread",
            time_limit_s=options.time_limit_s,
            config={"celery_queue": options.queue},
        )(handler)

    # -- running ------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function here and now, as calling a Celery task does."""
        if self.options.bind:
            return self.run(
                BoundTask(self, Request(args=list(args), kwargs=kwargs, task=self.name)), *args, **kwargs
            )
        return self.run(*args, **kwargs)

    def run_payload(self, ctx: Any, payload: Any) -> Any:
        args, kwargs = self._arguments(payload)
        if self.options.bind:
            request = Request(
                id=_job_id(ctx),
                retries=ctx.current.attempts,
                args=args,
                kwargs=kwargs,
                task=self.name,
                called_directly=False,
            )
            return self.run(BoundTask(self, request, ctx), *args, **kwargs)
        return self.run(*args, **kwargs)

    def _arguments(self, payload: Any) -> tuple[list[Any], dict[str, Any]]:
        if payload is None:  # a schedule's tick without a payload (celery beat's entries without args)
            return [], {}
        if not isinstance(payload, Mapping) or not isinstance(payload.get("args", []), list):
            raise ValueError(
                f"task {self.name!r}: a job's payload must be {{'args': [...], 'kwargs': {{...}}}} "
                f"(enqueue with .delay() or .apply_async()), got {payload!r}"
            )
        if "kwargs" in payload:
            return list(payload.get("args", [])), dict(payload["kwargs"])
        # a schedule's payload, as onestep_import_beat writes it: {"args": [...], **kwargs}
        return list(payload.get("args", [])), {key: value for key, value in payload.items() if key != "args"}

    # -- calling ------------------------------------------------------------------------
    def delay(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> Any:
        """``delay`` in the caller's transaction: never run if it rolls back; returns the id.

        The job row is written in the same transaction as the caller's data, so the
        worker cannot see the job before the data, and a rollback removes both.
        """
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *,
        countdown: float | None = None,
        eta: datetime | None = None,
        expires: float | datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        task_id: str | None = None,
        link: Any = None,
        link_error: Any = None,
        **options: Any,
    ) -> Any:
        where = f"{self.name}.apply_async()"
        if options:
            first = sorted(options)[0]
            raise TypeError(f"{where}: unsupported option {first!r} (supported: {', '.join(_CALL_OPTIONS)})")
        if queue is not None and queue != self.options.queue:
            raise ConfigurationError(
                f"{where}: queue={queue!r}, but the task runs on queue {self.options.queue!r}; "
                "declare it with @shared_task(queue=...) (each task has one queue here)"
            )
        if link is not None or link_error is not None:
            return self._apply_with_callbacks(
                where, args, kwargs, countdown, eta, priority, expires, task_id, link, link_error
            )
        send: dict[str, Any] = {"priority": self.options.priority if priority is None else priority}
        if countdown is not None:
            send["delay_s"] = countdown
        if eta is not None:
            send["run_at"] = eta
        if task_id is not None:
            send["dedupe_key"] = str(task_id)
        if expires is not None:
            send.update(_expiry(where, expires))
        from django_onestep.celery.result import AsyncResult

        return AsyncResult(self.queue.send(json_payload(f"{self.name}.delay()", args, kwargs), **send))

    def _apply_with_callbacks(
        self, where: str, args: Any, kwargs: Any, countdown: Any, eta: Any, priority: Any,
        expires: Any, task_id: Any, link: Any, link_error: Any,
    ) -> Any:  # fmt: skip
        """A workflow of this call and its callbacks (``celery/canvas.py``)."""
        from django_onestep.celery.canvas import start_with_callbacks

        if expires is not None or task_id is not None:
            raise TypeError(f"{where}: expires= and task_id= cannot be combined with link=/link_error=")
        given = {"countdown": countdown, "eta": eta, "priority": priority}
        call = self.signature(args, kwargs, **{k: v for k, v in given.items() if v is not None})
        return start_with_callbacks(call, link, link_error)

    def AsyncResult(self, task_id: int | str) -> Any:
        from django_onestep.celery.result import AsyncResult

        return AsyncResult(task_id)

    def s(self, *args: Any, **kwargs: Any) -> Any:
        from django_onestep.celery.signature import Signature

        return Signature(self, args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Any:
        from django_onestep.celery.signature import Signature

        return Signature(self, args, kwargs, immutable=True)

    def signature(
        self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        from django_onestep.celery.signature import Signature

        return Signature(self, tuple(args or ()), dict(kwargs or {}), options=options)

    def __repr__(self) -> str:
        return f"<@shared_task {self.name}>"


def _expiry(where: str, expires: float | datetime) -> dict[str, Any]:
    if isinstance(expires, datetime):
        return {"expires_at": expires}
    return {"expires_s": positive_number(f"{where} expires", expires)}


def shared_task(*args: Any, **options: Any) -> Any:
    """``@shared_task`` or ``@shared_task(bind=True, max_retries=5, ...)``."""
    if args:
        if len(args) == 1 and callable(args[0]) and not options:
            return CeleryTask(args[0], parse_task_options(_where(args[0]), {}))
        raise ConfigurationError(f"shared_task() takes its options by keyword, got {args!r}")

    def decorate(run: Callable[..., Any]) -> CeleryTask:
        return CeleryTask(run, parse_task_options(_where(run, options.get("name")), options))

    return decorate


def _where(run: Callable[..., Any], name: Any = None) -> str:
    return f"task {name or getattr(run, '__module__', '?') + '.' + getattr(run, '__name__', '?')!r}"
