"""A leader-only 1-second schedule, for ``manage.py onestep_worker tests.acceptance.leader_app:app``.

Each run appends ``<scheduled_at> <pid> <started> <ended>`` (unix times) to the file
named by ``ONESTEP_TEST_RUN_LOG``; a run lasts 0.3 s so that two concurrent writers
would show as overlapping intervals.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.schedules.interval import IntervalSource

app = OneStepApp("leader", shutdown_timeout_s=5)


@app.task(source=IntervalSource.every(seconds=1, timezone="UTC"), leader_only=True, concurrency=2)
async def every_second_on_the_leader(ctx: Any, payload: Any) -> None:
    started = time.time()
    await asyncio.sleep(0.3)
    line = f"{ctx.current.meta['scheduled_at']} {os.getpid()} {started:.3f} {time.time():.3f}\n"
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
