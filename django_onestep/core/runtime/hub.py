"""Startup/shutdown hooks and event handlers of an app."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django_onestep.core.callbacks import call_flexible, call_flexible_async
from django_onestep.core.events import TaskEvent

__all__ = ["EventHub"]

F = TypeVar("F", bound=Callable[..., Any])


class EventHub:
    """Owns the hook lists. ``listening`` is False until an event handler exists, and
    the runner skips building events entirely in that case."""

    def __init__(self, app: Any, events_logger: logging.Logger) -> None:
        self._app = app
        self.logger = events_logger
        self.startup_hooks: list[Callable[..., Any]] = []
        self.shutdown_hooks: list[Callable[..., Any]] = []
        self.event_handlers: list[Callable[..., Any]] = []
        self.listening = False

    def add_event_handler(self, func: Callable[..., Any]) -> None:
        if not callable(func):
            raise ValueError(f"on_event handler must be callable, got {func!r}")
        self.event_handlers.append(func)
        self.listening = True

    def remove_event_handler(self, func: Callable[..., Any]) -> None:
        self.event_handlers.remove(func)
        self.listening = bool(self.event_handlers)

    async def run_hooks(self, hooks: list[Callable[..., Any]], *, keep_going: bool = False) -> None:
        """Run lifecycle hooks in order; each receives the app if it takes an argument.

        Startup stops at the first failure. With ``keep_going`` (shutdown) every hook
        runs, so one failing hook cannot skip another's cleanup; the first error is
        raised at the end and the later ones are logged.
        """
        first: Exception | None = None
        for hook in list(hooks):
            try:
                await call_flexible_async(hook, self._app)
            except Exception as exc:
                if not keep_going:
                    raise
                if first is None:
                    first = exc
                else:
                    self.logger.exception(
                        "shutdown hook failed", extra={"hook": getattr(hook, "__name__", repr(hook))}
                    )
        if first is not None:
            raise first

    async def emit(self, event: TaskEvent) -> None:
        """Deliver ``event`` to every handler; a raising handler is logged and skipped."""
        for handler in self.event_handlers:
            try:
                result = call_flexible(handler, event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.logger.exception("event handler failed", extra={"event_kind": event.kind.value})
