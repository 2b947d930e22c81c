"""A standalone worker (no Django) on a partitioned Redis stream, driven by environment variables.

Run by tests/integration/test_redis_partitions.py as ``python -m django_onestep run
tests.integration.apps.redis_partitions_app:app``. Each handled event appends
``<key> <seq> <pid> <unix time>`` to ``P_OUT`` (one ``write`` on an O_APPEND file) before
the handler returns, so the file holds every worker's processing order.

P_REDIS_URL  server URL      P_STREAM  stream name     P_OUT  record file
P_LOCK_TTL_S lease (10)      P_WORK_S  seconds per event (0)

A second task reads ``<P_STREAM>.guarded`` (4 partitions, exception_policy quarantine),
raising on events with ``"poison": true``; it records to ``<P_OUT>.guarded``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from django_onestep.connectors.redis import RedisConnector
from django_onestep.core.runtime.app import OneStepApp
from tests.integration.apps.worker_process import record

OUT = os.environ.get("P_OUT", "/tmp/partitions.out")
WORK_S = float(os.environ.get("P_WORK_S", "0"))

redis = RedisConnector(os.environ.get("P_REDIS_URL", "redis://127.0.0.1:6379/0"))
events = redis.partitioned_stream(
    os.environ.get("P_STREAM", "partitions"),
    partitions=16,
    key=lambda payload: payload["key"],
    lock_ttl_s=float(os.environ.get("P_LOCK_TTL_S", "10")),
    poll_interval_s=0.2,
)

app = OneStepApp("partitions", shutdown_timeout_s=10)

logging.basicConfig(level=logging.WARNING)
logging.getLogger("django_onestep.connectors.redis").setLevel(logging.INFO)


# a second stream whose events with "poison" always raise: its partition is quarantined
guarded = redis.partitioned_stream(
    f"{os.environ.get('P_STREAM', 'partitions')}.guarded",
    partitions=4,
    key=lambda payload: payload["key"],
    poll_interval_s=0.2,
    exception_policy="quarantine",
)


@app.task(source=guarded, concurrency=8)
async def guard(ctx: Any, payload: Any) -> None:
    if payload.get("poison"):
        raise ValueError("poisoned event")
    record(f"{OUT}.guarded", f"{payload['key']} {payload['seq']} {os.getpid()} {time.time():.3f}")


@app.task(source=events, concurrency=64)
async def handle(ctx: Any, payload: Any) -> None:
    if WORK_S:
        await asyncio.sleep(WORK_S)
    record(OUT, f"{payload['key']} {payload['seq']} {os.getpid()} {time.time():.3f}")
