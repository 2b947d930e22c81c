"""Event counters kept in process (``app.on_event(InMemoryMetrics())``)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from django_onestep.core.events import TaskEvent, TaskEventKind
from django_onestep.core.retry import FailureKind

__all__ = ["InMemoryMetrics"]


class InMemoryMetrics:
    """Counts events by kind, by ``task:kind`` and by ``kind:failure_kind``.

    ``snapshot()`` returns ``{"kinds": {...}, "tasks": {...}, "failures": {...}}`` with
    the same keys as onestep. A lock keeps counts exact when read from another thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: Counter[TaskEventKind] = Counter()
        self._tasks: Counter[tuple[str, TaskEventKind]] = Counter()
        self._failures: Counter[tuple[TaskEventKind, FailureKind]] = Counter()

    def __call__(self, event: TaskEvent) -> None:
        with self._lock:
            self._kinds[event.kind] += 1
            self._tasks[(event.task, event.kind)] += 1
            if event.failure is not None:
                self._failures[(event.kind, event.failure.kind)] += 1

    def count(
        self,
        kind: TaskEventKind,
        *,
        task: str | None = None,
        failure_kind: FailureKind | None = None,
    ) -> int:
        with self._lock:
            if task is not None:
                return self._tasks[(task, kind)]
            if failure_kind is not None:
                return self._failures[(kind, failure_kind)]
            return self._kinds[kind]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "kinds": {kind.value: n for kind, n in self._kinds.items()},
                "tasks": {f"{task}:{kind.value}": n for (task, kind), n in self._tasks.items()},
                "failures": {f"{kind.value}:{fk.value}": n for (kind, fk), n in self._failures.items()},
            }

    def reset(self) -> None:
        with self._lock:
            self._kinds.clear()
            self._tasks.clear()
            self._failures.clear()
