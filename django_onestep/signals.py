"""Django signals mirroring the runtime's task events.

Each signal is sent with ``sender`` = the ``OneStepApp`` and keyword arguments
``event`` (the ``TaskEvent``), ``app_name``, ``task_name``, ``source_name``,
``attempts``, ``duration_s`` and ``failure`` (a ``FailureInfo`` or None)::

    from django.dispatch import receiver
    from django_onestep.signals import task_failed

    @receiver(task_failed)
    def alert(sender, task_name, failure, **kwargs):
        ...

Receivers may be sync (run in Django's thread-sensitive executor, so the ORM works
there) or async (awaited on the worker's loop). The task waits for its receivers, so
keep them short. A raising receiver is logged and never breaks the task. When no
receiver is connected, the bridge costs one dictionary lookup per event and no
coroutine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from django.dispatch import Signal

__all__ = [
    "connect_app_signals",
    "task_dead_lettered",
    "task_failed",
    "task_retried",
    "task_started",
    "task_succeeded",
]

logger = logging.getLogger("django_onestep.signals")

task_started = Signal()
task_succeeded = Signal()
task_retried = Signal()
task_failed = Signal()
task_dead_lettered = Signal()

# event kind value -> signal
SIGNALS_BY_KIND: dict[str, Signal] = {
    "started": task_started,
    "succeeded": task_succeeded,
    "retried": task_retried,
    "failed": task_failed,
    "dead_lettered": task_dead_lettered,
}


class SignalBridge:
    """An ``on_event`` handler that sends the matching Django signal."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, event: Any) -> Awaitable[None] | None:
        """None (nothing to await) unless the event's signal has receivers for this app."""
        kind = getattr(event.kind, "value", event.kind)
        signal = SIGNALS_BY_KIND.get(kind)
        # ``receivers`` is empty until something connects: no lookup per event then
        if signal is None or not signal.receivers or not signal.has_listeners(self.app):
            return None
        return self._send(signal, kind, event)

    async def _send(self, signal: Signal, kind: str, event: Any) -> None:
        responses = await signal.asend_robust(
            self.app,
            event=event,
            app_name=event.app,
            task_name=event.task,
            source_name=event.source,
            attempts=event.attempts,
            duration_s=event.duration_s,
            failure=event.failure,
        )
        for receiver, response in responses:
            if isinstance(response, BaseException):
                logger.error(
                    "receiver %r of task_%s raised %s: %s",
                    receiver,
                    kind,
                    type(response).__name__,
                    response,
                    exc_info=response,
                )


def connect_app_signals(app: Any) -> SignalBridge:
    """Register the bridge on ``app`` (once)."""
    existing = getattr(app, "_django_onestep_signal_bridge", None)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    bridge = SignalBridge(app)
    app.on_event(bridge)
    app._django_onestep_signal_bridge = bridge
    return bridge
