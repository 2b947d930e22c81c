"""Tasks of the test project, registered on the project app by autodiscovery.

Each reads its own DatabaseQueue; payload ``{"label": ..., "sleep_s": ...}``.
"""

from __future__ import annotations

import asyncio
import os

from django_onestep import DatabaseQueue, MaxAttempts, app

from .models import Run

work_queue = DatabaseQueue("testapp.work")
failing_queue = DatabaseQueue("testapp.failing")
counter_queue = DatabaseQueue("testapp.counter")
slow_queue = DatabaseQueue("testapp.slow")


@app.task(source=work_queue, concurrency=4)
def record(ctx, payload):
    """Sync handler using the ORM: one Run row per run."""
    Run.objects.create(label=payload["label"], task="record", attempts=ctx.current.attempts)
    return payload["label"]


@app.task(source=failing_queue, retry=MaxAttempts(2))
async def always_fails(ctx, payload):
    await Run.objects.acreate(label=payload["label"], task="always_fails", attempts=ctx.current.attempts)
    raise RuntimeError(f"boom {payload['label']}")


@app.task(source=counter_queue)
async def count(ctx, payload):
    """ctx.state is the database store: the count survives worker restarts."""
    total = (await ctx.state.get("total", 0)) + 1
    await ctx.state.set("total", total)
    await Run.objects.acreate(label=str(total), task="count", attempts=ctx.current.attempts)


@app.task(source=slow_queue, concurrency=2)
async def slow(ctx, payload):
    """Announces itself on stdout (tests wait for it), sleeps, then records the run."""
    print(f"slow started {payload['label']} pid={os.getpid()}", flush=True)
    await asyncio.sleep(float(payload.get("sleep_s", 1.0)))
    await Run.objects.acreate(label=payload["label"], task="slow", attempts=ctx.current.attempts)
