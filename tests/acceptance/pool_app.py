"""The app the pool tests run with ``manage.py onestep_worker tests.acceptance.pool_app:app``.

Every run appends ``<name> <pid> <attempt (1-based)> <start> <end>`` to the file named by
``ONESTEP_TEST_RUN_LOG`` (``O_APPEND`` writes of a few bytes are atomic, so every child
of the pool shares it). A payload's ``kill_on_attempt`` makes the handler SIGKILL its
own process on that attempt, before it writes its line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue

LEASE_S = 2.0

app = OneStepApp("pool", shutdown_timeout_s=10)

pool_queue = DatabaseQueue("pool-work", lease_s=LEASE_S, max_deliveries=5, max_idle_poll_s=0.2)
poison_queue = DatabaseQueue("pool-poison", lease_s=LEASE_S, max_deliveries=50, max_idle_poll_s=0.2)


def record_run(line: str) -> None:
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


@app.task(source=pool_queue, concurrency=1)
async def work(ctx: Any, payload: dict[str, Any]) -> None:
    attempt = ctx.current.attempts + 1  # attempts counts the previous ones
    if payload.get("kill_on_attempt") == attempt:
        os.kill(os.getpid(), signal.SIGKILL)
    started = time.time()
    await asyncio.sleep(float(payload.get("sleep_s", 0.0)))
    record_run(f"{payload['name']} {os.getpid()} {attempt} {started:.6f} {time.time():.6f}")


@app.task(source=poison_queue, concurrency=1)
async def poison(ctx: Any, payload: dict[str, Any]) -> None:
    os.kill(os.getpid(), signal.SIGKILL)  # every process that claims it dies
