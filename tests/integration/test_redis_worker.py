"""Redis at-least-once with a real worker process: SIGKILLed workers, a killed Redis server."""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from django_onestep.connectors.redis import RedisConnector
from tests.integration.apps.worker_process import records, sigkill, start_worker, stop
from tests.needs import require_module
from tests.servers import RedisServer
from tests.waiting import wait_until

require_module("redis")

TARGET = "tests.integration.apps.redis_worker_app:app"


async def enqueue(url: str, stream: str, total: int) -> None:
    connector = RedisConnector(url)
    sink = connector.stream(stream, group="workers", start_id="0")
    await sink.ensure_group()
    await sink.publish_many({"id": i} for i in range(total))
    await connector.close()


async def group_state(url: str, stream: str) -> tuple[int, int, int]:
    """(pending in the group, delayed retries waiting, dead letters)."""
    connector = RedisConnector(url)
    client = await connector.acquire()
    try:
        pending = int((await client.xpending(stream, "workers"))["pending"])
        delayed = int(await client.zcard(f"{stream}:onestep:delayed"))
        dead = int(await client.xlen(f"{stream}.dead"))
        return pending, delayed, dead
    finally:
        await connector.close()


def settled(url: str, stream: str) -> bool:
    return asyncio.run(group_state(url, stream)) == (0, 0, 0)


@pytest.mark.slow
def test_five_sigkills_lose_no_entry_and_leave_nothing_pending(redis_url: str, tmp_path: Path) -> None:
    stream, out, total = f"h4a-kill-{uuid.uuid4().hex[:8]}", tmp_path / "handled.txt", 2000
    asyncio.run(enqueue(redis_url, stream, total))
    env = {"H4A_REDIS_URL": redis_url, "H4A_STREAM": stream, "H4A_OUT": str(out), "H4A_WORK_S": "0.01"}
    log = tmp_path / "worker.log"
    rng = random.Random()
    for _ in range(5):
        worker = start_worker(TARGET, env, log)
        before = len(records(out))
        progress = rng.randint(30, 250)  # a random point mid-run (it holds 16 more then)
        try:
            wait_until(
                lambda b=before, p=progress: len(records(out)) >= b + p, 60, "progress before the kill"
            )
        finally:
            sigkill(worker)
    assert len({i for i, _ in records(out)}) < total, "the kills came too late to prove anything"
    worker = start_worker(TARGET, env, log)
    try:
        wait_until(lambda: len({i for i, _ in records(out)}) == total, 120, "every entry handled")
        wait_until(lambda: settled(redis_url, stream), 30, "nothing pending")
    finally:
        assert stop(worker) == 0, log.read_text()[-3000:]
    rows = records(out)
    assert {i for i, _ in rows} == set(range(total))  # 0 lost
    # entries held by killed workers came back with their earlier deliveries counted
    assert max(attempts for _, attempts in rows) >= 1
    assert asyncio.run(group_state(redis_url, stream)) == (0, 0, 0)


@pytest.mark.slow
def test_worker_survives_a_redis_kill_and_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis").start()  # private: appendfsync always
    stream, out, total = f"h4a-restart-{uuid.uuid4().hex[:8]}", tmp_path / "handled.txt", 1000
    log = tmp_path / "worker.log"
    worker: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(enqueue(server.url, stream, total))
        env = {"H4A_REDIS_URL": server.url, "H4A_STREAM": stream, "H4A_OUT": str(out), "H4A_WORK_S": "0.05"}
        # a lease long enough for settles to be retried through the outage (budget: half)
        env["H4A_CLAIM_IDLE_S"] = "6"
        worker = start_worker(TARGET, env, log)
        wait_until(lambda: len(records(out)) >= 200, 60, "progress before the Redis kill")
        server.kill()
        time.sleep(1.0)  # the worker hits a dead server for a while
        server.start()
        wait_until(
            lambda: len({i for i, _ in records(out)}) == total, 120, "every entry handled after restart"
        )
        wait_until(lambda: settled(server.url, stream), 60, "nothing pending")
        assert worker.poll() is None, "the worker exited instead of reconnecting"
        assert stop(worker) == 0
        worker = None
        assert {i for i, _ in records(out)} == set(range(total))
        # the outage was seen and ridden out (by fetch backoff or settle retries)
        assert "reconnected after" in log.read_text()
    finally:
        if worker is not None:
            worker.kill()
            worker.wait(timeout=10)
        server.stop()
