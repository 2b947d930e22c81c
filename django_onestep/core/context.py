"""What a handler receives as ``ctx``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .envelope import Envelope
from .sinks import send_to_sink
from .state import ScopedState

if TYPE_CHECKING:
    from .app import OneStepApp
    from .base import Delivery, Sink
    from .task import TaskSpec

__all__ = ["TaskContext"]


class TaskContext:
    """Per-delivery context: ``app``, ``task``, ``delivery``, ``current`` (the Envelope),
    ``config`` (app config), ``task_config``, ``state`` (keys ``"<app>:<task>:<key>"``),
    ``logger`` (``onestep.<app>.<task>``) and ``emit()``.

    The runner passes its cached logger and scoped state so building a context per
    delivery costs one small object.
    """

    __slots__ = ("_logger", "_state", "app", "delivery", "task")

    def __init__(
        self,
        *,
        app: OneStepApp,
        task: TaskSpec,
        delivery: Delivery,
        logger: logging.Logger | None = None,
        state: ScopedState | None = None,
    ) -> None:
        self.app = app
        self.task = task
        self.delivery = delivery
        self._logger = logger
        self._state = state

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
