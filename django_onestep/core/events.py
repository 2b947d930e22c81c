"""Task execution events and the structured-logging bridge (onestep 1.x shapes).

Events are built only when at least one ``app.on_event`` handler is registered, so a
worker nobody observes pays nothing for them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from django_onestep.core.retry import FailureInfo

__all__ = ["StructuredEventLogger", "TaskEvent", "TaskEventKind", "new_event"]


class TaskEventKind(str, Enum):
    FETCHED = "fetched"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    RETRIED = "retried"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    CANCELLED = "cancelled"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TaskEvent:
    """One step in the life of a delivery. ``meta`` is a copy of the envelope meta."""

    kind: TaskEventKind
    app: str
    task: str
    source: str | None
    attempts: int
    emitted_at: datetime = field(default_factory=_utcnow)
    duration_s: float | None = None
    failure: FailureInfo | None = None
    meta: dict[str, Any] = field(default_factory=dict)


_new = object.__new__


def new_event(
    kind: TaskEventKind,
    app: str,
    task: str,
    source: str | None,
    attempts: int,
    duration_s: float | None = None,
    failure: FailureInfo | None = None,
    meta: dict[str, Any] | None = None,
) -> TaskEvent:
    """``TaskEvent(...)`` as the runtime builds it, several times per delivery.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``;
    filling the instance dictionary at once costs less than half. The event is the same
    (equal, frozen, same repr); ``TaskEvent`` has no ``__post_init__`` to skip.
    """
    event = _new(TaskEvent)
    event.__dict__.update(
        kind=kind, app=app, task=task, source=source, attempts=attempts, emitted_at=_utcnow(),
        duration_s=duration_s, failure=failure, meta={} if meta is None else meta,
    )  # fmt: skip
    return event


_DEFAULT_LEVELS: dict[TaskEventKind, int] = {
    TaskEventKind.FETCHED: logging.DEBUG,
    TaskEventKind.STARTED: logging.DEBUG,
    TaskEventKind.SUCCEEDED: logging.INFO,
    TaskEventKind.RETRIED: logging.WARNING,
    TaskEventKind.FAILED: logging.ERROR,
    TaskEventKind.DEAD_LETTERED: logging.ERROR,
    TaskEventKind.CANCELLED: logging.WARNING,
}


class StructuredEventLogger:
    """An ``on_event`` handler that logs ``"task <kind>"`` with the event as record extras."""

    def __init__(
        self,
        *,
        logger: logging.Logger | None = None,
        logger_name: str = "onestep.events",
        level_by_kind: dict[TaskEventKind, int] | None = None,
    ) -> None:
        self.logger = logger or logging.getLogger(logger_name)
        self.level_by_kind = {**_DEFAULT_LEVELS, **(level_by_kind or {})}

    def __call__(self, event: TaskEvent) -> None:
        level = self.level_by_kind[event.kind]
        if not self.logger.isEnabledFor(level):
            return  # building the extras costs more than the check
        failure = event.failure
        self.logger.log(
            level,
            f"task {event.kind.value}",
            extra={
                "event_kind": event.kind.value,
                "app_name": event.app,
                "task_name": event.task,
                "source_name": event.source,
                "attempts": event.attempts,
                "duration_s": event.duration_s,
                "emitted_at": event.emitted_at.isoformat(),
                "failure_kind": failure.kind.value if failure is not None else None,
                "failure_exception_type": failure.exception_type if failure is not None else None,
                "failure_message": failure.message if failure is not None else None,
                "task_event_meta": dict(event.meta),
            },
        )
