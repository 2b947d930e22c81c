"""Run pending work in-process until idle (the real runtime, not a simulation)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django_onestep.testing.child_databases import child_processes_use_test_databases

__all__ = ["RunSummary", "arun_until_idle", "run_until_idle"]


@dataclass
class RunSummary:
    """What happened during one run: event counts in total and per task."""

    counts: Counter[str] = field(default_factory=Counter)
    by_task: dict[str, Counter[str]] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)

    def record(self, event: Any) -> None:
        kind = getattr(event.kind, "value", event.kind)
        self.counts[kind] += 1
        self.by_task.setdefault(event.task, Counter())[kind] += 1
        self.events.append(event)

    @property
    def succeeded(self) -> int:
        return self.counts["succeeded"]

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    @property
    def retried(self) -> int:
        return self.counts["retried"]

    @property
    def dead_lettered(self) -> int:
        return self.counts["dead_lettered"]


class _Collector:
    """One ``on_event`` handler per app, forwarding to the runs in progress."""

    def __init__(self) -> None:
        self.active: list[RunSummary] = []

    def __call__(self, event: Any) -> None:
        for summary in self.active:
            summary.record(event)


def _collector(app: Any) -> _Collector:
    collector = getattr(app, "_django_onestep_test_collector", None)
    if collector is None:
        collector = _Collector()
        app.on_event(collector)
        app._django_onestep_test_collector = collector
    return collector


def _resolve_app(app: Any) -> Any:
    from django_onestep.project.defaults import apply_django_defaults
    from django_onestep.webhooks.inbox import attach_inboxes

    if app is None:
        from django_onestep.project.project_app import get_project_app

        app = get_project_app()
    attach_inboxes(app)  # webhook tasks read what Django's view accepted
    return apply_django_defaults(app)


def _refuse_inside_test_transaction(app: Any) -> None:
    from django.db import connections

    from django_onestep.conf import get_settings

    alias = get_settings().DATABASE
    if connections[alias].in_atomic_block:
        raise RuntimeError(
            "run_until_idle() reads jobs through the queue's own database connection, which cannot "
            "see (and on SQLite would wait for) this test's open transaction: use "
            "@pytest.mark.django_db(transaction=True) / TransactionTestCase (or the "
            "onestep_worker fixture), or eager() for in-transaction tests"
        )


async def arun_until_idle(
    app: Any = None, *, tasks: Iterable[str] | None = None, timeout_s: float = 60.0
) -> RunSummary:
    """Serve ``tasks`` (default: all with a source) until idle; TimeoutError past ``timeout_s``."""
    app = _resolve_app(app)
    names = list(tasks) if tasks is not None else [spec.name for spec in app.tasks if spec.source is not None]
    summary = RunSummary()
    collector = _collector(app)
    collector.active.append(summary)
    try:
        with child_processes_use_test_databases():
            await asyncio.wait_for(app.serve(until_idle=True, tasks=names), timeout_s)
    finally:
        collector.active.remove(summary)
    return summary


def run_until_idle(
    app: Any = None, *, tasks: Iterable[str] | None = None, timeout_s: float = 60.0
) -> RunSummary:
    """Sync twin of :func:`arun_until_idle` for ordinary tests (no event loop running)."""
    resolved = _resolve_app(app)
    _refuse_inside_test_transaction(resolved)
    return asyncio.run(arun_until_idle(resolved, tasks=tasks, timeout_s=timeout_s))
