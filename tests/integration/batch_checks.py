"""The batch-handler check every broker runs: 25 jobs in batches of at most 10, one item
handed back once, one dead-lettered, the rest acked (the test then asks its broker)."""

from __future__ import annotations

import asyncio
from typing import Any

from django_onestep import MaxAttempts, MemoryQueue, OneStepApp
from django_onestep.core.base import Sink, Source

JOBS = 25


async def run_batches(source: Source, *, batch_within_s: float = 0.3) -> list[list[tuple[int, int]]]:
    """Publish 25 jobs to ``source`` (also a Sink), serve until idle, return the batches
    as ``[(n, attempts), ...]`` after checking the dead letter."""
    assert isinstance(source, Sink)
    for n in range(JOBS):
        await source.publish({"n": n})
    app = OneStepApp("batches", shutdown_timeout_s=5)
    dead = MemoryQueue("dead")
    runs: list[list[tuple[int, int]]] = []

    @app.task(
        source=source, dead_letter=dead, retry=MaxAttempts(2), batch_size=10, batch_within_s=batch_within_s
    )
    async def work(ctx: Any, payloads: list[Any]) -> None:
        runs.append([(item.payload["n"], item.attempts) for item in ctx.batch])
        for item in ctx.batch:
            if item.payload["n"] == 3 and item.attempts == 0:
                ctx.batch.retry(item)
            elif item.payload["n"] == 11:
                ctx.batch.dead_letter(item, ValueError("eleven is refused"))

    await asyncio.wait_for(app.serve(until_idle=True), 60)
    assert all(len(run) <= 10 for run in runs), runs
    assert len(runs[0]) == 10, runs  # the jobs were all there: the first batch is full
    assert sorted(pair for run in runs for pair in run) == sorted([(n, 0) for n in range(JOBS)] + [(3, 1)])
    assert [(e.body["payload"], e.body["failure"]["message"]) for e in dead.drain_nowait()] == [
        ({"n": 11}, "eleven is refused")
    ]
    return runs
