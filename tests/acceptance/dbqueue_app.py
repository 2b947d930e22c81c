"""The app the reliability tests run with ``manage.py onestep_worker tests.acceptance.dbqueue_app:app``.

Every handler appends one line per run to the file named by ``ONESTEP_TEST_RUN_LOG``
(``O_APPEND`` writes of a few bytes are atomic, so two worker processes can share it):
counting lines per job tells how many times each job ran, whatever the database.
``ONESTEP_TEST_LEASE_S`` sets the queues' lease. ``ONESTEP_TEST_LOCKED_DEAD_LETTERS=N``
makes the first N writes of each job's dead letter fail as a busy SQLite file does
("database is locked"), on any database.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
from typing import Any

from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.orm.stores import DatabaseStateStore

LEASE_S = float(os.environ.get("ONESTEP_TEST_LEASE_S", "2"))

app = OneStepApp("reliability", state=DatabaseStateStore(), shutdown_timeout_s=10)

work_queue = DatabaseQueue("reliability-work", lease_s=LEASE_S, max_deliveries=20)
fails_queue = DatabaseQueue("reliability-fails", lease_s=LEASE_S)
killer_queue = DatabaseQueue("reliability-killer", lease_s=LEASE_S, max_deliveries=2)
counter_queue = DatabaseQueue("reliability-counter", lease_s=LEASE_S)
# idle polls back off to 10 s apart within 3 s: a job that starts sooner was woken
# (PostgreSQL's NOTIFY)
wakeup_queue = DatabaseQueue(
    "reliability-wakeup", lease_s=LEASE_S, idle_backoff_after_s=0.5, max_idle_poll_s=10, fetch_wait_s=10
)
# one job at a time, the rest of each batch claimed ahead and kept for a minute
prefetch_queue = DatabaseQueue("reliability-prefetch", lease_s=LEASE_S, batch_size=10, prefetch_hold_s=60)


def _inject_locked_dead_letter_writes(times: int) -> None:
    from django.db import OperationalError

    from django_onestep.dbqueue import settle

    real_apply_one, failed = settle._apply_one, collections.Counter[int]()

    def apply_one(connection: Any, table: str, op: Any, now: Any, now_db: Any) -> bool:
        if op.kind == "dead" and failed[op.job_id] < times:
            failed[op.job_id] += 1
            record_run(f"locked dead letter {op.job_id}")
            raise OperationalError("database is locked")
        return real_apply_one(connection, table, op, now, now_db)

    settle._apply_one = apply_one


if os.environ.get("ONESTEP_TEST_LOCKED_DEAD_LETTERS"):
    _inject_locked_dead_letter_writes(int(os.environ["ONESTEP_TEST_LOCKED_DEAD_LETTERS"]))


def record_run(line: str) -> None:
    fd = os.open(os.environ["ONESTEP_TEST_RUN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


@app.task(source=work_queue, concurrency=int(os.environ.get("ONESTEP_TEST_CONCURRENCY", "4")))
async def work(ctx: Any, payload: dict[str, Any]) -> None:
    record_run(f"{payload['n']} {os.getpid()}")
    # yield once, so a SIGKILL can land between the run and its ack
    await asyncio.sleep(float(payload.get("sleep_s", 0.001)))


@app.task(source=prefetch_queue)
async def one_at_a_time(ctx: Any, payload: dict[str, Any]) -> None:
    record_run(f"{payload['n']} {os.getpid()}")
    # slow on its first attempt only, so the worker is killed while it runs
    await asyncio.sleep(float(payload.get("sleep_s", 0.001)) if ctx.current.attempts == 0 else 0.001)


@app.task(source=fails_queue, retry=MaxAttempts(3))
async def always_fails(ctx: Any, payload: dict[str, Any]) -> None:
    record_run(f"fails {payload['n']} attempt {ctx.current.attempts}")
    raise RuntimeError(f"always fails {payload['n']}")


@app.task(source=killer_queue)
async def kills_worker(ctx: Any, payload: dict[str, Any]) -> None:
    record_run(f"killer {payload['n']}")
    os.kill(os.getpid(), signal.SIGKILL)


@app.task(source=counter_queue)
async def counter(ctx: Any, payload: dict[str, Any]) -> None:
    total = (await ctx.state.get("total", 0)) + 1
    await ctx.state.set("total", total)
    record_run(f"counter {total}")


@app.task(source=wakeup_queue)
async def wakeup(ctx: Any, payload: dict[str, Any]) -> None:
    record_run(f"wakeup {payload['n']} {time.time() - payload['sent_at']:.4f}")
