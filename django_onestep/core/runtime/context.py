"""What a handler receives as ``ctx``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from django_onestep.core.envelope import Envelope
from django_onestep.core.runtime.sinks import send_to_sink
from django_onestep.core.state import ScopedState

if TYPE_CHECKING:
    from django_onestep.core.base import Delivery, Sink
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["TaskContext"]

T = TypeVar("T")


class TaskContext:
    """Per-delivery context: ``app``, ``task``, ``delivery``, ``current`` (the Envelope),
    ``config`` (app config), ``task_config``, ``state`` (keys ``"<app>:<task>:<key>"``),
    ``logger`` (``onestep.<app>.<task>``) and ``emit()``.

    The runner passes its cached logger and scoped state so building a context per
    delivery costs one small object. For a sync handler it also passes ``loop``, the
    event loop that ``run_coroutine()`` hands awaitables to from the worker thread.
    """

    __slots__ = ("_logger", "_loop", "_state", "app", "delivery", "task")

    def __init__(
        self,
        *,
        app: OneStepApp,
        task: TaskSpec,
        delivery: Delivery,
        logger: logging.Logger | None = None,
        state: ScopedState | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.app = app
        self.task = task
        self.delivery = delivery
        self._logger = logger
        self._state = state
        self._loop = loop

    @property
    def current(self) -> Envelope:
        return self.delivery.envelope

    @property
    def config(self) -> dict[str, Any]:
        return self.app.config

    @property
    def task_config(self) -> dict[str, Any]:
        return self.task.config

    @property
    def logger(self) -> logging.Logger:
        if self._logger is None:
            self._logger = logging.getLogger(f"onestep.{self.app.name}.{self.task.name}")
        return self._logger

    @property
    def state(self) -> ScopedState:
        if self._state is None:
            self._state = ScopedState(self.app.state, f"{self.app.name}:{self.task.name}")
        return self._state

    async def emit(
        self,
        body: Any,
        *,
        sink: Sink | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Send ``body`` to ``sink``, or to every ``emit`` sink of the task.

        Raises RuntimeError when there is no sink to send to.
        """
        targets = (sink,) if sink is not None else self.task.emit
        if not targets:
            raise RuntimeError(f"task {self.task.name!r}: emit() needs a sink (the task has no emit sinks)")
        envelope = Envelope(body=body, meta=dict(meta or {}))
        for target in targets:
            await send_to_sink(self.app, self.logger, target, envelope)

    async def update_current_row(self, values: Mapping[str, Any]) -> None:
        """Write ``values`` to the row this delivery is (a SQL table source), keeping it claimed."""
        await self._row_method("update_current_row", values)(dict(values))

    async def complete(self, values: Mapping[str, Any]) -> None:
        """Write ``values`` and settle the row as done in one transaction (a SQL table queue)."""
        await self._row_method("complete", values)(dict(values))

    def fail(self, error: str, cause: str = "") -> None:
        """Report a business failure without raising: the handler returns normally and the
        source settles the item as failed with ``error`` and ``cause`` (a Step Functions
        activity sends ``SendTaskFailure``, which the state machine's ``Catch`` can route)."""
        report = getattr(self.delivery, "report_failure", None)
        if report is None:
            raise RuntimeError(
                f"fail() needs a source that reports failures to its broker (a Step Functions "
                f"activity); task {self.task.name!r} has none: raise an exception instead"
            )
        report(error, cause)

    def set_progress(self, current: float, total: float | None = None, **meta: Any) -> None:
        """Report how far the handler got; a job handle reads it back (sync or async handlers).

        Cheap to call often: the source writes the latest value at a bounded rate.
        """
        self.delivery.set_progress({"current": current, "total": total, **meta})

    def should_abort(self) -> bool:
        """True once the job was cancelled while running: a sync handler checks it and
        returns early (an async handler is cancelled instead, at its next ``await``)."""
        return self.delivery.abort_requested()

    def _row_method(self, name: str, values: Mapping[str, Any]) -> Any:
        if not isinstance(values, Mapping):
            raise TypeError(f"{name}() takes a mapping of column to value, got {type(values).__name__}")
        method = getattr(self.delivery, name, None)
        if method is None:
            raise RuntimeError(
                f"{name}() needs a source whose items are table rows; {self.task.name!r} has none"
            )
        return method

    def run_coroutine(self, awaitable: Awaitable[T], *, timeout_s: float | None = None) -> T:
        """From a sync handler (a worker thread), run ``awaitable`` on the app's event loop
        and return its result: ``ctx.run_coroutine(ctx.state.get("cursor"))``,
        ``ctx.run_coroutine(ctx.emit(row))``. Not for async handlers: just ``await``.
        """
        loop = self._loop
        if loop is None:
            raise RuntimeError("run_coroutine() is for sync handlers, which run in a worker thread")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            raise RuntimeError("run_coroutine() called on the event loop thread; use 'await' instead")

        async def wrap() -> T:
            return await awaitable

        coro: Coroutine[Any, Any, T] = wrap()
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, loop)
        return future.result(timeout_s)
