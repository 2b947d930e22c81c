"""A source may hold a terminally failed item (a partition's halt/quarantine policy)."""

from __future__ import annotations

from typing import Any

from django_onestep import Delivery, Envelope, OneStepApp
from django_onestep.core.base import Source
from django_onestep.core.events import TaskEvent, TaskEventKind
from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.memory import MemoryQueue


class HoldingDelivery(Delivery):
    def __init__(self, held: list[str]) -> None:
        super().__init__(Envelope(body={"n": 1}))
        self.held = held
        self.settled_by: list[str] = []

    async def hold_after_failure(self, exc: Exception) -> str | None:
        self.held.append(str(exc))
        self.is_settled = True
        return "parked at the head of its partition"

    async def ack(self) -> None:
        self.settled_by.append("ack")

    async def retry(self, *, delay_s: float | None = None) -> None:
        self.settled_by.append("retry")

    async def fail(self, exc: Exception | None = None) -> None:
        self.settled_by.append("fail")


class OneShot(Source):
    def __init__(self, delivery: Delivery) -> None:
        super().__init__("one-shot")
        self.left = [delivery]

    async def fetch(self, limit: int) -> list[Delivery]:
        taken, self.left = self.left, []
        return taken


async def test_a_held_failure_is_neither_dead_lettered_nor_failed_in_the_source() -> None:
    held: list[str] = []
    delivery = HoldingDelivery(held)
    dead = MemoryQueue("dead")
    events: list[TaskEvent] = []
    app = OneStepApp("hold")
    app.on_event(events.append)

    @app.task(source=OneShot(delivery), dead_letter=dead, retry=MaxAttempts(1))
    async def boom(ctx: Any, payload: Any) -> None:
        raise ValueError("always")

    await app.serve(until_idle=True)
    assert held == ["always"]
    assert delivery.settled_by == []  # the source settled it itself
    assert dead.size() == 0
    kinds = [event.kind for event in events]
    assert TaskEventKind.FAILED in kinds and TaskEventKind.DEAD_LETTERED not in kinds


async def test_by_default_a_terminal_failure_is_dead_lettered() -> None:
    class Plain(HoldingDelivery):
        async def hold_after_failure(self, exc: Exception) -> str | None:
            return None

    delivery = Plain([])
    dead = MemoryQueue("dead")
    app = OneStepApp("plain")

    @app.task(source=OneShot(delivery), dead_letter=dead, retry=MaxAttempts(1))
    async def boom(ctx: Any, payload: Any) -> None:
        raise ValueError("always")

    await app.serve(until_idle=True)
    assert dead.size() == 1 and delivery.settled_by == ["fail"]
