"""A standalone worker (no Django) on one SQS queue, driven by environment variables.

Run by the kill test as ``python -m django_onestep run tests.integration.apps.sqs_worker_app:app``.
Each handler appends ``start <id> <attempts>`` when it begins and ``done <id> <attempts>``
when it ends (one ``write`` each on an O_APPEND file).

H4B_SQS_ENDPOINT  moto URL        H4B_SQS_URL  queue URL
H4B_OUT           record file     H4B_WORK_S   seconds each handler takes
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from django_onestep.connectors.sqs import SQSConnector
from django_onestep.core.runtime.app import OneStepApp
from tests.integration.apps.worker_process import record

OUT = os.environ.get("H4B_OUT", "/tmp/h4b-sqs-worker.out")
WORK_S = float(os.environ.get("H4B_WORK_S", "0"))

sqs = SQSConnector(region_name="us-east-1", endpoint_url=os.environ.get("H4B_SQS_ENDPOINT"))
source = sqs.queue(os.environ.get("H4B_SQS_URL", "http://127.0.0.1:1/1/missing"), wait_time_s=1)

app = OneStepApp("h4b-sqs", shutdown_timeout_s=5)


@app.task(source=source, concurrency=8)
async def handle(ctx: Any, payload: Any) -> None:
    record(OUT, f"start {payload['id']} {ctx.current.attempts}")
    await asyncio.sleep(WORK_S)
    record(OUT, f"done {payload['id']} {ctx.current.attempts}")
