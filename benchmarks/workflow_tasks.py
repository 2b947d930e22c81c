"""The app ``benchmarks/chain_latency.py`` runs in a worker: one no-op step handler."""

from __future__ import annotations

from typing import Any

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue

app = OneStepApp("bench-workflows")
step_queue = DatabaseQueue("bench-chain-step")


@app.task(source=step_queue)
def next_number(ctx: Any, payload: int) -> int:
    return payload + 1
