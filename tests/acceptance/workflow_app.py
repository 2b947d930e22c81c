"""The app the workflow acceptance tests run with ``manage.py onestep_worker``.

Every handler appends one line per run to the file named by ``ONESTEP_TEST_RUN_LOG``
(``O_APPEND`` writes of a few bytes are atomic, so worker processes can share it), so a
test counts how often each member and each callback ran. Leases are 1 s: the jobs of
a killed worker come back quickly.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue

LEASE_S = 1.0
FAILING_MEMBER = 7

app = OneStepApp("workflows", shutdown_timeout_s=5)

member_queue = DatabaseQueue("workflow-member", lease_s=LEASE_S)
callback_queue = DatabaseQueue("workflow-callback", lease_s=LEASE_S)
errback_queue = DatabaseQueue("workflow-errback", lease_s=LEASE_S)


def record_run(line: str) -> None:
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


@app.task(source=member_queue, concurrency=4, retry=MaxAttempts(1))
def member(ctx: Any, payload: dict[str, Any]) -> int:
    record_run(f"member {payload['n']}")
    time.sleep(payload.get("sleep_s", 0))  # long enough for a kill to land mid-chord
    if payload.get("fail"):
        raise RuntimeError(f"member {payload['n']} failed on purpose")
    return int(payload["n"])


@app.task(source=callback_queue)
def callback(ctx: Any, payload: list[int]) -> int:
    record_run(f"callback {sum(payload)} {len(payload)}")
    return sum(payload)


@app.task(source=errback_queue)
def errback(ctx: Any, payload: Any) -> None:
    record_run(f"errback {payload}")
