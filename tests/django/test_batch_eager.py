"""Eager mode runs a batch handler with a batch of one payload."""

from __future__ import annotations

from typing import Any

from django_onestep import MemoryQueue, OneStepApp
from django_onestep.testing import eager


def test_eager_gives_a_batch_handler_a_list_of_one() -> None:
    app = OneStepApp("eager-batches")
    seen: list[Any] = []

    @app.task(source=MemoryQueue("in"), batch_size=10)
    def work(ctx, payloads):  # type: ignore[no-untyped-def]
        seen.append((payloads, [item.payload for item in ctx.batch]))
        return len(payloads)

    with eager(app):
        assert work.enqueue({"n": 1}) == 1
    assert seen == [([{"n": 1}], [{"n": 1}])]
