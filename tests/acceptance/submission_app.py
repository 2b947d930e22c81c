"""The app the submission tests run with ``manage.py onestep_worker tests.acceptance.submission_app:app``.

``ONESTEP_TEST_RUN_LOG`` names a file each chunk run appends ``<event> <chunk first op> <pid>``
to (short ``O_APPEND`` writes: several workers can share it). ``ONESTEP_TEST_LEASE_S``
sets the reservations' lease; ``ONESTEP_TEST_SLOW_S`` how long a ``slow`` chunk takes.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django_onestep import SubmissionSource
from django_onestep.core.runtime.app import OneStepApp

LEASE_S = float(os.environ.get("ONESTEP_TEST_LEASE_S", "30"))
SLOW_S = float(os.environ.get("ONESTEP_TEST_SLOW_S", "0.05"))

app = OneStepApp("submissions", shutdown_timeout_s=10)


def record(event: str, ops: list[Any]) -> None:
    path = os.environ.get("ONESTEP_TEST_RUN_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event} {ops[0]} {os.getpid()}\n".encode())
        finally:
            os.close(fd)


@app.task(source=SubmissionSource("acc-ints", lease_s=LEASE_S, poll_interval_s=0.05), concurrency=100)
async def echo(ctx: Any, n: int) -> int:
    return n


@app.task(source=SubmissionSource("acc-slow", per="chunk", lease_s=LEASE_S, poll_interval_s=0.05))
def slow(ctx: Any, ops: list[int]) -> list[int]:
    record("start", ops)
    time.sleep(SLOW_S)
    record("end", ops)
    return ops


@app.task(source=SubmissionSource("acc-picky", per="chunk", lease_s=LEASE_S, poll_interval_s=0.05))
def picky(ctx: Any, ops: list[int]) -> list[int]:
    record("start", ops)
    if 13 in ops:
        raise LookupError(f"no such item: {ops[0]}")
    return ops
