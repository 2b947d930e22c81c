"""Startup/shutdown hooks and event handlers of an app."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from .callbacks import call_flexible, call_flexible_async
from .events import TaskEvent

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

    async def run_hooks(self, hooks: list[Callable[..., Any]]) -> None:
        """Run lifecycle hooks in order; each receives the app if it takes an argument."""
        for hook in list(hooks):
            await call_flexible_async(hook, self._app)

    async def emit(self, event: TaskEvent) -> None:
        """Deliver ``event`` to every handler; a raising handler is logged and skipped."""
        for handler in self.event_handlers:
            try:
                result = call_flexible(handler, event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.logger.exception("event handler failed", extra={"event_kind": event.kind.value})
