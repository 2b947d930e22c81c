"""The app ``test_batch_worker.py`` runs with ``manage.py onestep_worker``, two batch
tasks on the database queue that append to ``ONESTEP_TEST_RUN_LOG``:

* ``work`` SIGKILLs its own worker in the middle of the batch holding job
  ``ONESTEP_TEST_KILL_AT`` on its first run; every finished run of a job appends
  ``<n> <pid>``;
* ``sizes`` appends ``<batch size> <monotonic time>`` per batch.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue

app = OneStepApp("batch-acceptance", shutdown_timeout_s=10)

batch_queue = DatabaseQueue("batch-acceptance", lease_s=1.0, batch_size=20, fetch_wait_s=0.1)
KILL_AT = int(os.environ.get("ONESTEP_TEST_KILL_AT", "-1"))


def record_runs(lines: list[str]) -> None:
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, "".join(f"{line}\n" for line in lines).encode())
    finally:
        os.close(fd)


@app.task(source=batch_queue, batch_size=50, batch_within_s=0.5)
async def work(ctx: Any, payloads: list[dict[str, Any]]) -> None:
    if any(item.payload["n"] == KILL_AT and item.attempts == 0 for item in ctx.batch):
        record_runs([f"killed {payload['n']}" for payload in payloads])
        os.kill(os.getpid(), signal.SIGKILL)  # mid-batch: nothing of it is settled
    record_runs([f"{payload['n']} {os.getpid()}" for payload in payloads])


sizes_queue = DatabaseQueue("batch-acceptance-sizes", fetch_wait_s=0.1)


@app.task(source=sizes_queue, batch_size=10, batch_within_s=1.0)
async def sizes(ctx: Any, payloads: list[dict[str, Any]]) -> None:
    record_runs([f"{len(payloads)} {time.monotonic():.3f}"])
