"""Partitioned Redis streams with real worker processes: per-key order, rebalancing, crash takeover.

Each worker is ``python -m django_onestep run`` on ``apps/redis_partitions_app.py``; the
record file holds every handled event in processing order (see that module).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from django_onestep.connectors.redis import RedisConnector
from django_onestep.connectors.redis.partition_hash import partition_for
from django_onestep.connectors.redis.partition_status import partition_report
from tests.integration.apps.worker_process import sigkill, start_worker, stop
from tests.needs import require_module
from tests.waiting import wait_until

require_module("redis")

TARGET = "tests.integration.apps.redis_partitions_app:app"
KEYS = 50


def events(total: int, first_seq: int = 1) -> list[dict[str, object]]:
    """``total`` events spread over KEYS keys, each key numbered from ``first_seq``."""
    return [{"key": f"key-{i % KEYS}", "seq": first_seq + i // KEYS} for i in range(total)]


def publish(url: str, stream: str, bodies: list[dict[str, object]]) -> None:
    async def go() -> None:
        connector = RedisConnector(url)
        sink = connector.partitioned_stream(stream, partitions=16, key=lambda payload: payload["key"])
        await sink.publish_many(bodies)
        await connector.close()

    asyncio.run(go())


def owners(url: str, stream: str) -> dict[int, str]:
    """partition -> the worker id holding its lease."""

    async def go() -> dict[int, str]:
        connector = RedisConnector(url)
        client = await connector.acquire()
        try:
            values = await client.mget([f"{stream}:onestep:lease:{p}" for p in range(16)])
        finally:
            await connector.close()
        return {p: value.decode().split("|")[0] for p, value in enumerate(values) if value}

    return asyncio.run(go())


def rows(path: Path) -> list[tuple[str, int, int, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        key, seq, pid, at = line.split()
        out.append((key, int(seq), int(pid), float(at)))
    return out


GUARDED = [(f"g-{i}", seq) for seq in (1, 2, 3) for i in range(8)]


def publish_guarded(url: str, stream: str) -> int:
    """The guarded stream's events; ``g-0``'s first always raises. Its partition."""

    async def go() -> None:
        connector = RedisConnector(url)
        sink = connector.partitioned_stream(
            f"{stream}.guarded", partitions=4, key=lambda payload: payload["key"]
        )
        await sink.publish_many({"key": k, "seq": s, "poison": (k, s) == ("g-0", 1)} for k, s in GUARDED)
        await connector.close()

    asyncio.run(go())
    return partition_for("g-0", 4)


def quarantined(url: str, stream: str) -> list[int]:
    async def go() -> list[int]:
        connector = RedisConnector(url)
        sink = connector.partitioned_stream(
            f"{stream}.guarded", partitions=4, key=lambda payload: payload["key"]
        )
        rows = await partition_report(sink)
        await connector.close()
        return [row["partition"] for row in rows if row["quarantined"]]

    return asyncio.run(go())


def assert_in_order_exactly_once(path: Path, per_key: int) -> None:
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, seq, _pid, _at in rows(path):
        by_key[key].append(seq)
    assert len(by_key) == KEYS
    for key, seqs in by_key.items():
        assert seqs == list(range(1, per_key + 1)), f"{key}: {seqs[:20]}..."


def start(url: str, stream: str, out: Path, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = {"P_REDIS_URL": url, "P_STREAM": stream, "P_OUT": str(out), **extra}
    return start_worker(TARGET, env, log)


def test_three_workers_keep_every_key_in_order_exactly_once_and_quarantine_a_poisoned_partition(
    redis_url: str, tmp_path: Path
) -> None:
    stream, out, log = f"part-{uuid.uuid4().hex[:8]}", tmp_path / "out.txt", tmp_path / "worker.log"
    workers = [start(redis_url, stream, out, log) for _ in range(3)]
    guarded = Path(f"{out}.guarded")
    try:
        wait_until(lambda: len(set(owners(redis_url, stream).values())) == 3, 20, "partitions spread over 3")
        publish(redis_url, stream, events(10_000))
        poisoned = publish_guarded(redis_url, stream)
        wait_until(lambda: len(rows(out)) >= 10_000, 60, "10,000 events handled")
        others = {(key, seq) for key, seq in GUARDED if partition_for(key, 4) != poisoned}
        wait_until(lambda: {(k, s) for k, s, _p, _a in rows(guarded)} >= others, 30, "the other partitions")
        wait_until(lambda: quarantined(redis_url, stream) == [poisoned], 10, "the partition quarantined")
    finally:
        codes = [stop(worker) for worker in workers]
    # the poisoned key's later events wait behind it (other keys of its partition may
    # have run beside it before it failed)
    assert not [row for row in rows(guarded) if row[0] == "g-0"]
    assert codes == [0, 0, 0], log.read_text()[-3000:]
    assert len(rows(out)) == 10_000
    assert_in_order_exactly_once(out, 200)
    assert len({pid for _k, _s, pid, _at in rows(out)}) == 3, "the partitions were not spread"


def test_workers_joining_and_leaving_keep_order_exactly_once(redis_url: str, tmp_path: Path) -> None:
    stream, out, log = f"part-{uuid.uuid4().hex[:8]}", tmp_path / "out.txt", tmp_path / "worker.log"
    publish(redis_url, stream, events(10_000))
    work = {"P_WORK_S": "0.03"}  # a key's 200 events take 6 s or more: time to rebalance twice
    first = start(redis_url, stream, out, log, **work)
    joined: list[subprocess.Popen[bytes]] = []
    try:
        wait_until(lambda: len(rows(out)) >= 500, 30, "the first worker under way")
        joined = [start(redis_url, stream, out, log, **work) for _ in range(2)]
        wait_until(lambda: len(set(owners(redis_url, stream).values())) == 3, 20, "partitions spread over 3")
        before_leave = len(rows(out))
        wait_until(lambda: len(rows(out)) >= before_leave + 300, 30, "progress with 3 workers")
        assert [stop(worker) for worker in joined] == [0, 0], log.read_text()[-3000:]
        left_at = len(rows(out))
        wait_until(lambda: len(set(owners(redis_url, stream).values())) == 1, 20, "partitions back on 1")
        wait_until(lambda: len(rows(out)) >= 10_000, 60, "10,000 events handled")
    finally:
        for worker in [first, *joined]:
            stop(worker)
    assert left_at < 10_000, "the leavers left after the end: nothing was handed back"
    pids = {pid for _k, _s, pid, _at in rows(out)}
    assert {worker.pid for worker in [first, *joined]} == pids, "every worker took a share"
    assert len(rows(out)) == 10_000
    assert_in_order_exactly_once(out, 200)


@pytest.mark.slow
def test_a_killed_workers_partitions_resume_on_a_survivor_within_the_lease(
    redis_url: str, tmp_path: Path
) -> None:
    stream, out, log = f"part-{uuid.uuid4().hex[:8]}", tmp_path / "out.txt", tmp_path / "worker.log"
    publish(redis_url, stream, events(1000))
    workers = [start(redis_url, stream, out, log, P_LOCK_TTL_S="10") for _ in range(2)]
    try:
        wait_until(lambda: len(rows(out)) >= 1000, 60, "the first 1,000 events")
        wait_until(lambda: len(set(owners(redis_url, stream).values())) == 2, 20, "partitions spread over 2")
        victim, survivor = workers
        killed_at = time.time()
        sigkill(victim)
        publish(redis_url, stream, events(KEYS, first_seq=21))  # one more event per key
        wait_until(lambda: len(rows(out)) >= 1000 + KEYS, 30, "the events after the kill")
    finally:
        for worker in workers:
            stop(worker)
    after = rows(out)[1000:]
    assert {pid for _k, _s, pid, _at in after} == {survivor.pid}
    takeover_s = max(at for _k, _s, _pid, at in after) - killed_at
    assert takeover_s < 15, f"the killed worker's partitions resumed after {takeover_s:.1f}s"
    assert_in_order_exactly_once(out, 21)
