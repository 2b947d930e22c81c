"""The app the results acceptance tests run with ``manage.py onestep_worker``.

``compute`` returns a value; ``long_sync`` checks ``ctx.should_abort()`` while it
works; ``long_async`` sleeps (an abort cancels it). Both report progress first, so a
test knows they started. Leases are 1.5 s: renewals, and abort checks, every 0.5 s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue

LEASE_S = 1.5

app = OneStepApp("results")

compute_queue = DatabaseQueue("results-compute", lease_s=LEASE_S)
sync_queue = DatabaseQueue("results-long-sync", lease_s=LEASE_S, progress_interval_s=0.05)
async_queue = DatabaseQueue("results-long-async", lease_s=LEASE_S, progress_interval_s=0.05)


@app.task(source=compute_queue)
async def compute(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    return {"total": sum(payload["numbers"]), "by": "worker"}


@app.task(source=sync_queue)
def long_sync(ctx: Any, payload: dict[str, Any]) -> str:
    ctx.set_progress(0, total=100, stage="started")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ctx.should_abort():
            return "stopped"
        time.sleep(0.01)
    return "ran to the end"


@app.task(source=async_queue)
async def long_async(ctx: Any, payload: dict[str, Any]) -> str:
    ctx.set_progress(0, total=100, stage="started")
    await asyncio.sleep(60)
    return "ran to the end"
