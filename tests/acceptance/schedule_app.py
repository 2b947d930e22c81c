"""The app the schedule tests run with ``manage.py onestep_worker tests.acceptance.schedule_app:app``.

Every tick appends ``<scheduled_at> <pid>`` to the file named by ``ONESTEP_TEST_RUN_LOG``
(``O_APPEND`` writes of a few bytes are atomic, so several workers can share it).
``ONESTEP_TEST_MISFIRE`` sets the misfire policy of ``every_minute``.
"""

from __future__ import annotations

import os
from typing import Any

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.schedules.cron import CronSource
from django_onestep.core.schedules.interval import IntervalSource

app = OneStepApp("schedules", shutdown_timeout_s=5)


def record_run(ctx: Any) -> None:
    line = f"{ctx.current.meta['scheduled_at']} {os.getpid()}\n"
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


# concurrency 4: a worker stalled for a few seconds on a busy machine still takes every
# tick that came due meanwhile (overlap "allow" delivers up to the free slots)
@app.task(source=IntervalSource.every(seconds=1, timezone="UTC"), concurrency=4)
async def every_second(ctx: Any, payload: Any) -> None:
    record_run(ctx)


@app.task(
    source=IntervalSource.every(
        minutes=1, timezone="UTC", immediate=True, misfire=os.environ.get("ONESTEP_TEST_MISFIRE", "run_once")
    )
)
async def every_minute(ctx: Any, payload: Any) -> None:
    record_run(ctx)


@app.task(source=CronSource("30 2 * * *", timezone="Europe/Berlin", overlap="skip"))
async def nightly(ctx: Any, payload: Any) -> None:
    record_run(ctx)
