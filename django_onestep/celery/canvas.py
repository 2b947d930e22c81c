"""Celery's canvas on database workflows: ``chain``, ``group``, ``chord``, ``link``/``link_error``.

A workflow's state is in the database (``django_onestep.workflows``): each stage is
enqueued in the transaction that settles the one before it. Members are
``task.s(...)``/``task.si(...)`` signatures, bare ``@shared_task`` tasks (as ``task.s()``),
or ``step(handler, ...)`` for ``@app.task`` handlers on a ``DatabaseQueue``.

Nesting: a chain may hold tasks, groups, chords and chains; a group holds single tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django_onestep.celery.arguments import json_payload
from django_onestep.celery.signature import Signature
from django_onestep.workflows import StepCall, WorkflowResult, start_workflow
from django_onestep.workflows.start import Stage

__all__ = ["chain", "chord", "group", "start_with_callbacks"]

_SEND = {"countdown": "delay_s", "priority": "priority"}


def _call(item: Any, where: str) -> StepCall:
    """One member as a ``StepCall``."""
    if isinstance(item, StepCall):
        return item
    if _is_task(item):
        item = item.s()
    if not isinstance(item, Signature):
        raise TypeError(f"{where}: a member must be task.s(...), task.si(...) or step(...), got {item!r}")
    payload = json_payload(f"{where} {item!r}", item.args, item.kwargs)
    send: dict[str, Any] = {"priority": item.task.options.priority}
    for option, value in item.options.items():
        if option == "eta" and isinstance(value, datetime):
            send["run_at"] = value
        elif option in _SEND:
            send[_SEND[option]] = value
        else:
            raise TypeError(f"{where}: option {option!r} of {item!r} is not supported in a workflow step")
    return StepCall(
        task=item.task.name,
        queue=item.task.queue.name,
        using=item.task.queue.using,
        shape="celery",
        args=tuple(payload["args"]),
        kwargs=payload["kwargs"],
        immutable=item.immutable,
        send=send,
    )


def _is_task(item: Any) -> bool:
    """A bare ``@shared_task`` (not imported by type: ``shared_task`` imports this module)."""
    return (
        not isinstance(item, Signature)
        and hasattr(item, "retry_policy")
        and callable(getattr(item, "s", None))
    )


def _members(tasks: tuple[Any, ...]) -> list[Any]:
    """``f(a, b)`` or ``f([a, b])``, as Celery takes both."""
    if len(tasks) == 1 and not (isinstance(tasks[0], (Signature, StepCall, _Canvas)) or _is_task(tasks[0])):
        return list(tasks[0])
    return list(tasks)


def _errbacks(where: str, link_error: Any) -> list[StepCall]:
    if link_error is None:
        return []
    items = link_error if isinstance(link_error, (list, tuple)) else [link_error]
    return [_call(item, f"{where} link_error") for item in items]


class _Canvas:
    kind = "chain"

    def __init__(self, on_error: Any = None) -> None:
        self._on_error: list[Any] = [] if on_error is None else [on_error]

    def stages(self) -> list[Stage]:
        raise NotImplementedError

    def parts(self) -> list[Any]:
        """The canvases inside this one (their ``on_error`` callbacks count too)."""
        return []

    def error_callbacks(self) -> list[Any]:
        return [*self._on_error, *(e for part in self.parts() for e in part.error_callbacks())]

    def on_error(self, errback: Any) -> _Canvas:
        """Call ``errback`` once, with the failed job's id, when any step fails."""
        self._on_error.append(errback)
        return self

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *,
        link: Any = None,
        link_error: Any = None,
    ) -> WorkflowResult:
        """Start it: ``args``/``kwargs`` go to the first stage; ``link`` runs after the
        last stage with its result; ``link_error`` (and ``on_error``) once on a failure."""
        where = f"{self.kind}()"
        stages = self.stages()
        if (args or kwargs) and stages:
            first = stages[0]
            stages[0] = Stage(
                [c.with_input(tuple(args or ()), kwargs) for c in first.calls], group=first.group
            )
        if link is not None:
            stages += _to_stages(link, f"{where} link")
        errbacks = _errbacks(where, link_error) + [
            e for item in self.error_callbacks() for e in _errbacks(where, item)
        ]
        return start_workflow(self.kind, stages, on_error=errbacks)

    def delay(self, *args: Any, **kwargs: Any) -> WorkflowResult:
        return self.apply_async(args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> WorkflowResult:
        return self.apply_async(args, kwargs)

    def __or__(self, other: Any) -> chain:
        return chain(self, other)


def _to_stages(item: Any, where: str) -> list[Stage]:
    if isinstance(item, _Canvas):
        return item.stages()
    return [Stage([_call(item, where)], group=False)]


class chain(_Canvas):
    """``chain(a.s(x), b.s(), c.s())``: each result is prepended to the next call's
    arguments (not for ``si``); ``.get()`` returns the last one's result."""

    kind = "chain"

    def __init__(self, *tasks: Any, on_error: Any = None) -> None:
        super().__init__(on_error)
        self.tasks = _members(tasks)

    def stages(self) -> list[Stage]:
        return [stage for item in self.tasks for stage in _to_stages(item, "chain()")]

    def parts(self) -> list[Any]:
        return [item for item in self.tasks if isinstance(item, _Canvas)]


class group(_Canvas):
    """``group([a.s(1), a.s(2)])``: run together; ``.get()`` returns their results in order."""

    kind = "group"

    def __init__(self, *tasks: Any, on_error: Any = None) -> None:
        super().__init__(on_error)
        self.tasks = _members(tasks)

    def stages(self) -> list[Stage]:
        return [Stage([_call(item, "group()") for item in self.tasks], group=True)]


class chord(_Canvas):
    """``chord(header, body)``: ``body`` runs once with the header's ordered results,
    after every member succeeded; never when one fails (``link_error`` runs instead).
    ``chord(header)(body)`` starts it, as in Celery."""

    kind = "chord"

    def __init__(self, header: Any, body: Any = None, *, on_error: Any = None) -> None:
        super().__init__(on_error)
        self.header = header if isinstance(header, group) else group(*_members((header,)))
        self.body = body

    def stages(self) -> list[Stage]:
        if self.body is None:
            raise TypeError("chord(header) needs its callback: chord(header, body) or chord(header)(body)")
        return self.header.stages() + _to_stages(self.body, "chord() body")

    def parts(self) -> list[Any]:
        return [self.header, *([self.body] if isinstance(self.body, _Canvas) else [])]

    def __call__(self, *args: Any, **kwargs: Any) -> WorkflowResult:
        if (
            self.body is None
            and len(args) == 1
            and not kwargs
            and isinstance(args[0], (Signature, StepCall, _Canvas))
        ):
            self.body = args[0]
            return self.apply_async()
        return self.apply_async(args, kwargs)


def start_with_callbacks(signature: Signature, link: Any, link_error: Any) -> Any:
    """``task.apply_async(..., link=, link_error=)``: a workflow of the task and its
    callback; returns the task's own ``AsyncResult``, as Celery does."""
    from django_onestep.celery.result import AsyncResult
    from django_onestep.models import WorkflowStep

    workflow = chain(signature).apply_async(link=link, link_error=link_error)
    first = WorkflowStep.objects.using(signature.task.queue.using).get(
        workflow_id=workflow.workflow_id, role="step", stage=0
    )
    assert first.job_id is not None  # the first stage is enqueued with the workflow
    return AsyncResult(first.job_id, using=signature.task.queue.using)
