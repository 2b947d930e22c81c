"""What a handler running in a child process receives as ``ctx``.

The child has no event loop, sinks or state store of the worker, so its context is the
part of ``TaskContext`` that is plain data: the task, the envelope's attempts and meta,
the task's config and a logger. Handlers that need ``ctx.emit`` return a value instead:
the worker sends it to the task's ``emit`` sinks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChildEnvelope", "ChildTaskContext"]


@dataclass(frozen=True)
class ChildEnvelope:
    """The delivery's envelope without its body (the handler gets that as ``payload``)."""

    attempts: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChildTaskContext:
    app_name: str
    task_name: str
    current: ChildEnvelope
    task_config: dict[str, Any] = field(default_factory=dict)
    job_id: int | None = None  # the database queue's job, when the delivery is one

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(f"onestep.{self.app_name}.{self.task_name}")
