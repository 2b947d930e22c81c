"""Helpers for the runtime-core tests (no Django, no I/O beyond loopback)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from django_onestep.core.events import TaskEvent
from django_onestep.core.runtime.app import OneStepApp

DEADLINE_S = 20.0  # generous: the CI machine is small and shared


async def serve_idle(app: OneStepApp, **kwargs: Any) -> None:
    """Serve until every runner is idle, failing the test instead of hanging."""
    await asyncio.wait_for(app.serve(until_idle=True, **kwargs), DEADLINE_S)


async def wait_until(predicate: Any, timeout_s: float = DEADLINE_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.01)


class EventLog:
    """An on_event handler that records events."""

    def __init__(self) -> None:
        self.events: list[TaskEvent] = []

    def __call__(self, event: TaskEvent) -> None:
        self.events.append(event)

    def kinds(self, task: str | None = None) -> list[str]:
        return [e.kind.value for e in self.events if task is None or e.task == task]


@pytest.fixture
def events() -> EventLog:
    return EventLog()
