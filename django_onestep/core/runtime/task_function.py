"""The types ``@app.task`` gives a handler, so type checkers keep its signature.

``@app.task`` returns the handler itself with ``task_spec``, ``enqueue()`` and
``aenqueue()`` attached (``attach_enqueue``); :class:`TaskFunction` says so to a type
checker: calling it is calling the handler, and the three attributes are there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ParamSpec, Protocol, TypeVar

if TYPE_CHECKING:
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["TaskDecorator", "TaskFunction"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class TaskFunction(Protocol[P, R_co]):
    """A handler registered by ``@app.task``: the same callable, plus its task's API."""

    task_spec: TaskSpec

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    # What enqueueing returns depends on the source (a DatabaseQueue gives the job id;
    # the eager test mode gives the handler's result), hence ``object``.
    def enqueue(self, payload: object, **options: object) -> object:
        """Hand ``payload`` to the task's source synchronously (sources with a sync ``send``)."""
        ...

    def aenqueue(self, payload: object, **options: object) -> Awaitable[object]:
        """Publish ``payload`` to the task's source (a Sink) from async code."""
        ...


class TaskDecorator(Protocol):
    """What ``app.task(...)`` with options returns: applied to a handler, registers it."""

    def __call__(self, handler: Callable[P, R], /) -> TaskFunction[P, R]: ...
