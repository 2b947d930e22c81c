"""``ctx.update_current_row`` and ``ctx.complete``: onestep's row methods, passed to the delivery."""

from __future__ import annotations

from typing import Any

import pytest

from django_onestep.core.base import Delivery
from django_onestep.core.envelope import Envelope
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.context import TaskContext


class RowDelivery(Delivery):
    def __init__(self) -> None:
        super().__init__(Envelope(body={"id": 1}))
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def update_current_row(self, values: dict[str, Any]) -> None:
        self.calls.append(("update", values))

    async def complete(self, values: dict[str, Any]) -> None:
        self.calls.append(("complete", values))

    async def ack(self) -> None: ...

    async def retry(self, *, delay_s: float | None = None) -> None: ...

    async def fail(self, exc: Exception | None = None) -> None: ...


class PlainDelivery(RowDelivery):
    update_current_row = None  # type: ignore[assignment]
    complete = None  # type: ignore[assignment]


def context(delivery: Delivery) -> TaskContext:
    app = OneStepApp("rows")

    @app.task()
    async def handle(ctx: Any, row: Any) -> None: ...

    return TaskContext(app=app, task=app.get_task("handle"), delivery=delivery)


async def test_row_methods_reach_the_delivery_with_a_copy_of_the_values() -> None:
    delivery = RowDelivery()
    values = {"note": "x"}
    ctx = context(delivery)
    await ctx.update_current_row(values)
    await ctx.complete({"status": "done"})
    assert delivery.calls == [("update", {"note": "x"}), ("complete", {"status": "done"})]
    assert delivery.calls[0][1] is not values


async def test_a_source_without_rows_says_so() -> None:
    ctx = context(PlainDelivery())
    with pytest.raises(
        RuntimeError, match=r"update_current_row\(\) needs a source whose items are table rows"
    ):
        await ctx.update_current_row({"a": 1})
    with pytest.raises(TypeError, match=r"complete\(\) takes a mapping of column to value, got list"):
        await ctx.complete([("a", 1)])  # type: ignore[arg-type]
