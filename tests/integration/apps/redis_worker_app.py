"""A standalone worker (no Django) on one Redis stream, driven by environment variables.

Run by the kill/restart tests as ``python -m django_onestep run
tests.integration.apps.redis_worker_app:app``. Every handled entry id is appended (one
``write`` on an O_APPEND file) to ``H4A_OUT`` before the handler returns, so an id
missing from the file at the end was lost.

H4A_REDIS_URL  server URL            H4A_STREAM        stream name (group "workers")
H4A_OUT        record file           H4A_WORK_S        seconds per handler (default 0.002)
H4A_CLAIM_IDLE_S  lease of a fetched entry (default 1.5)
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from django_onestep.connectors.redis import RedisConnector
from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from tests.integration.apps.worker_process import record

STREAM = os.environ.get("H4A_STREAM", "h4a-worker")
OUT = os.environ.get("H4A_OUT", "/tmp/h4a-worker.out")
WORK_S = float(os.environ.get("H4A_WORK_S", "0.002"))
CLAIM_IDLE_S = float(os.environ.get("H4A_CLAIM_IDLE_S", "1.5"))

redis = RedisConnector(os.environ.get("H4A_REDIS_URL", "redis://127.0.0.1:6379/0"))
source = redis.stream(
    STREAM, group="workers", start_id="0", batch_size=50, poll_interval_s=0.2, claim_idle_s=CLAIM_IDLE_S
)
dead = redis.stream(f"{STREAM}.dead")

app = OneStepApp("h4a-redis", shutdown_timeout_s=5)

logging.basicConfig(level=logging.WARNING)
logging.getLogger("django_onestep.connectors.redis").setLevel(logging.INFO)


@app.task(source=source, dead_letter=dead, concurrency=16, retry=MaxAttempts(max_attempts=3, delay_s=0.2))
async def handle(ctx: Any, payload: Any) -> None:
    await asyncio.sleep(WORK_S)
    record(OUT, f"{payload['id']} {ctx.current.attempts}")
