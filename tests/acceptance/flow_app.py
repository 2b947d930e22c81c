"""Flow control under real workers: ``manage.py onestep_worker tests.acceptance.flow_app:app``.

Each run appends ``<task> <key> <pid> <started> <ended>`` (unix times) to the file named
by ``ONESTEP_TEST_RUN_LOG`` (``O_APPEND`` writes of a few bytes are atomic across
processes). The queues claim nothing ahead (``prefetch=0``), so a handler starts as
soon as its job is claimed.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue

RATE = os.environ.get("ONESTEP_TEST_RATE", "5/2s")  # the benchmark measures 60/m

app = OneStepApp("flow", shutdown_timeout_s=5)

rated_queue = DatabaseQueue("flow-rated", rate_limit=RATE, prefetch=0, poll_interval_s=0.02)
keyed_queue = DatabaseQueue(
    "flow-keyed", concurrency_key=lambda payload: payload["customer"], max_per_key=1, prefetch=0
)


def record_run(task: str, key: str, started: float) -> None:
    line = f"{task} {key} {os.getpid()} {started:.4f} {time.time():.4f}\n"
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@app.task(source=rated_queue, concurrency=8)
async def rated(ctx: Any, payload: dict[str, Any]) -> None:
    record_run("rated", str(payload["n"]), time.time())


@app.task(source=keyed_queue, concurrency=4)
async def per_customer(ctx: Any, payload: dict[str, Any]) -> None:
    started = time.time()
    await asyncio.sleep(0.25)  # long enough that two runs of one key would overlap
    record_run("keyed", payload["customer"], started)
