"""A standalone worker (no Django) on one RabbitMQ queue, driven by environment variables.

Run by the kill/restart tests as ``python -m django_onestep run
tests.integration.apps.rabbitmq_worker_app:app``. Every handled message id is appended
(one ``write`` on an O_APPEND file) to ``H4B_OUT`` *before* the handler returns, so a
message missing from the file at the end was lost.

H4B_AMQP_URL   broker URL               H4B_QUEUE   queue name
H4B_OUT        record file              H4B_WORK_S  seconds each handler takes (default 0.002)
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from django_onestep.connectors.rabbitmq import RabbitMQConnector
from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from tests.integration.apps.worker_process import record

QUEUE = os.environ.get("H4B_QUEUE", "h4b-worker")
OUT = os.environ.get("H4B_OUT", "/tmp/h4b-worker.out")
WORK_S = float(os.environ.get("H4B_WORK_S", "0.002"))

rmq = RabbitMQConnector(os.environ.get("H4B_AMQP_URL", "amqp://guest:guest@127.0.0.1/%2F"))
source = rmq.queue(QUEUE, prefetch=50, poll_interval_s=0.2, connect_timeout_s=3)
dead = rmq.queue(f"{QUEUE}.dead")

app = OneStepApp("h4b-rabbitmq", shutdown_timeout_s=5)

# The restart test reads the connector's "reconnected" line from the worker's output.
logging.basicConfig(level=logging.WARNING)
logging.getLogger("django_onestep.connectors.rabbitmq").setLevel(logging.INFO)


@app.task(
    source=source,
    dead_letter=dead,
    concurrency=8,
    retry=MaxAttempts(max_attempts=3, delay_s=0.2),
)
async def handle(ctx: Any, payload: Any) -> None:
    await asyncio.sleep(WORK_S)
    record(OUT, f"{payload['id']} {ctx.current.attempts}")
