"""Task events arrive as Django signals, sync receivers can use the ORM."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from django_onestep import signals
from django_onestep.testing import run_until_idle
from testproject.testapp.models import Run
from testproject.testapp.tasks import always_fails, record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received() -> Any:
    calls: list[tuple[str, str, int, str | None]] = []
    receivers = {}
    for kind, signal in signals.SIGNALS_BY_KIND.items():

        def receiver(
            sender: Any, *, task_name: str, attempts: int, failure: Any, _kind: str = kind, **kw: Any
        ) -> None:
            calls.append((_kind, task_name, attempts, failure.exception_type if failure else None))

        receivers[kind] = receiver
        signal.connect(receiver, weak=False, dispatch_uid=f"test-{kind}")
    yield calls
    for kind, signal in signals.SIGNALS_BY_KIND.items():
        signal.disconnect(dispatch_uid=f"test-{kind}")


def test_success_sends_started_then_succeeded(received: list) -> None:
    record.enqueue({"label": "a"})
    run_until_idle(tasks=["record"])
    assert received == [("started", "record", 0, None), ("succeeded", "record", 0, None)]


def test_terminal_failure_sends_retried_dead_lettered_failed(received: list) -> None:
    always_fails.enqueue({"label": "x"})
    run_until_idle(tasks=["always_fails"])
    assert received == [
        ("started", "always_fails", 0, None),
        ("retried", "always_fails", 0, "RuntimeError"),
        ("started", "always_fails", 1, None),
        ("dead_lettered", "always_fails", 1, "RuntimeError"),
        ("failed", "always_fails", 1, "RuntimeError"),
    ]


def test_sync_receivers_may_use_the_orm_and_raising_ones_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    seen_counts: list[int] = []

    def counts_runs(sender: Any, **kwargs: Any) -> None:
        seen_counts.append(Run.objects.count())

    def explodes(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    signals.task_succeeded.connect(counts_runs, weak=False, dispatch_uid="counts")
    signals.task_succeeded.connect(explodes, weak=False, dispatch_uid="explodes")
    try:
        record.enqueue({"label": "b"})
        with caplog.at_level(logging.ERROR, logger="django_onestep.signals"):
            summary = run_until_idle(tasks=["record"])
    finally:
        signals.task_succeeded.disconnect(dispatch_uid="counts")
        signals.task_succeeded.disconnect(dispatch_uid="explodes")
    assert seen_counts == [1]
    assert summary.succeeded == 1
    assert list(Run.objects.values_list("label", flat=True)) == ["b"]
    assert any("raised RuntimeError: receiver bug" in r.getMessage() for r in caplog.records)


def test_async_receivers_are_awaited() -> None:
    seen: list[str] = []

    async def on_started(sender: Any, task_name: str, **kwargs: Any) -> None:
        seen.append(task_name)

    signals.task_started.connect(on_started, weak=False, dispatch_uid="async")
    try:
        record.enqueue({"label": "c"})
        run_until_idle(tasks=["record"])
    finally:
        signals.task_started.disconnect(dispatch_uid="async")
    assert seen == ["record"]
