"""A standalone worker (no Django) on one MySQL table queue, driven by environment variables.

Run by the kill tests as ``python -m django_onestep run
tests.integration.apps.mysql_worker_app:app``. Every handled row id is appended (one
``write`` on an O_APPEND file) to ``I8_OUT`` before the handler returns.

I8_MYSQL_URL  server URL     I8_TABLE  table (id, status)    I8_OUT  record file
I8_WORK_S     seconds per handler (default 0.002)            I8_LEASE_S  lease (default 2)
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from django_onestep.connectors.mysql import MySQLConnector
from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from tests.integration.apps.worker_process import record

OUT = os.environ.get("I8_OUT", "/tmp/i8-worker.out")
WORK_S = float(os.environ.get("I8_WORK_S", "0.002"))

mysql = MySQLConnector(os.environ.get("I8_MYSQL_URL", "mysql://root@127.0.0.1/onestep"))
source = mysql.table_queue(
    os.environ.get("I8_TABLE", "orders"),
    "id",
    "status = 'new'",
    {"status": "processing"},
    {"status": "done"},
    nack={"status": "new"},
    fail={"status": "failed"},
    batch_size=50,
    lease_s=float(os.environ.get("I8_LEASE_S", "2")),
    poll_interval_s=0.1,
)

app = OneStepApp("i8-mysql", shutdown_timeout_s=5)
logging.basicConfig(level=logging.WARNING)


@app.task(source=source, dead_letter=MemoryQueue("dead"), concurrency=16, retry=MaxAttempts(max_attempts=3))
async def handle(ctx: Any, row: Any) -> None:
    await asyncio.sleep(WORK_S)
    record(OUT, f"{row['id']} {ctx.current.attempts}")
