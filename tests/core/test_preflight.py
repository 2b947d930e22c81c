"""Resources with a ``preflight()`` (SQL sources checking their schema) are asked before anything starts."""

from __future__ import annotations

from typing import Any

import pytest

from django_onestep.core.declarative.check import build_report
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.core.runtime.resources import preflight_problems


class CheckedQueue(MemoryQueue):
    def __init__(self, name: str, error: Exception | None) -> None:
        super().__init__(name)
        self.error = error
        self.calls = 0

    def preflight(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


def app_with(source: MemoryQueue, sink: MemoryQueue | None = None) -> OneStepApp:
    app = OneStepApp("preflight")

    @app.task(source=source, emit=sink)
    async def handle(ctx: Any, item: Any) -> None: ...

    return app


def test_a_configuration_error_is_a_problem_of_check_and_a_server_error_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = CheckedQueue("orders", ConfigurationError("orders claim: column 'stauts' is not in table 'orders'"))
    down = CheckedQueue("out", OSError("connection refused"))
    app = app_with(bad, down)
    assert preflight_problems(app, list(app.tasks)) == [
        "orders claim: column 'stauts' is not in table 'orders'"
    ]
    assert "preflight of out skipped: connection refused" in caplog.text
    report = build_report(app)
    assert report["ok"] is False
    assert {
        "level": "error",
        "task": None,
        "message": "orders claim: column 'stauts' is not in table 'orders'",
    } in (report["problems"])


def test_a_clean_preflight_leaves_the_report_ok() -> None:
    good = CheckedQueue("orders", None)
    report = build_report(app_with(good))
    assert report["ok"] is True and good.calls == 1
