"""The app the time-limit tests run with ``manage.py onestep_worker tests.acceptance.process_app:app``.

``spin`` never returns (``time_limit_s=2``, two attempts); ``tick`` runs meanwhile in
the same worker. Both append ``<what> <monotonic time>`` lines to the file named by
``ONESTEP_TEST_RUN_LOG``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue

app = OneStepApp("processes", shutdown_timeout_s=5)

spin_queue = DatabaseQueue("processes-spin", lease_s=5)
tick_queue = DatabaseQueue("processes-tick", lease_s=5)


def record(line: str) -> None:
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line} {time.time():.3f}\n".encode())
    finally:
        os.close(fd)


@app.task(source=spin_queue, executor="process", time_limit_s=2, retry=MaxAttempts(2))
def spin(ctx: Any, payload: Any) -> None:
    record(f"spin-start {ctx.current.attempts} {os.getpid()}")
    while True:
        pass


@app.task(source=tick_queue, concurrency=2)
def tick(ctx: Any, payload: Any) -> None:
    record(f"tick {payload['n']}")
    time.sleep(0.1)
