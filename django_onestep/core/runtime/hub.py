"""Startup/shutdown hooks and event handlers of an app."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from django_onestep.core.callbacks import call_flexible_async, positional_arity
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
        # each handler as called with the event (its arity resolved once, not per event)
        self._calls: list[Callable[[TaskEvent], Any]] = []
        self.listening = False

    def add_event_handler(self, func: Callable[..., Any]) -> None:
        if not callable(func):
            raise ValueError(f"on_event handler must be callable, got {func!r}")
        self.event_handlers.append(func)
        self._calls.append(func if positional_arity(func) != 0 else lambda _event: func())
        self.listening = True

    def remove_event_handler(self, func: Callable[..., Any]) -> None:
        index = self.event_handlers.index(func)
        del self.event_handlers[index]
        del self._calls[index]
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
        pending = self.dispatch(event)
        if pending is not None:
            await pending

    def dispatch(self, event: TaskEvent) -> Awaitable[None] | None:
        """:meth:`emit` without a coroutine while every handler is synchronous.

        Handlers run in order, each one finished before the next starts: at the first
        one that returns an awaitable, the rest is handed back as one awaitable for the
        caller to await. None means every handler has already run.
        """
        calls = self._calls
        for index, call in enumerate(calls):
            try:
                result = call(event)
            except Exception:
                self._failed(event)
                continue
            if result is not None and inspect.isawaitable(result):
                return self._finish(event, result, calls[index + 1 :])
        return None

    async def _finish(
        self, event: TaskEvent, pending: Awaitable[Any], calls: list[Callable[..., Any]]
    ) -> None:
        try:
            await pending
        except Exception:
            self._failed(event)
        for call in calls:
            try:
                result = call(event)
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:
                self._failed(event)

    def _failed(self, event: TaskEvent) -> None:
        self.logger.exception("event handler failed", extra={"event_kind": event.kind.value})
