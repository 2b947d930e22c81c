"""Partitioned Redis streams: drain rate with 1 and 2 worker processes, and crash takeover time.

    ONESTEP_TEST_REDIS_URL=redis://127.0.0.1:6379/0 python benchmarks/redis_partitions.py --n 20000

Workers are real processes (``python -m django_onestep run``) on
``tests/integration/apps/redis_partitions_app.py`` (16 partitions, concurrency 64, a
handler that appends one line per event to a file). The events (50 keys, a per-key
sequence) are published once every worker holds its partitions; the drain rate is the
events over the span from the first handled event to the last. Per-key order is checked.

Takeover: two workers with ``lock_ttl_s=10``; one is SIGKILLed and one more event per key
is published; printed are the seconds from the kill to the first and to the last of
those events handled on its former partitions.
The figures move with machine load: compare the columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.apps.worker_process import sigkill, start_worker, stop  # noqa: E402
from tests.integration.test_redis_partitions import KEYS, events, owners, publish, rows  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

TARGET = "tests.integration.apps.redis_partitions_app:app"


def workers_for(url: str, stream: str, out: Path, log: Path, count: int, ttl_s: str = "10") -> list:  # type: ignore[type-arg]
    env = {"P_REDIS_URL": url, "P_STREAM": stream, "P_OUT": str(out), "P_LOCK_TTL_S": ttl_s}
    started = [start_worker(TARGET, env, log) for _ in range(count)]
    wait_until(lambda: len(set(owners(url, stream).values())) == count and len(owners(url, stream)) == 16, 60)
    return started


def drain(url: str, total: int, count: int, tmp: Path) -> float:
    stream, out, log = f"bench-{uuid.uuid4().hex[:8]}", tmp / f"drain{count}.txt", tmp / "worker.log"
    workers = workers_for(url, stream, out, log, count)
    try:
        publish(url, stream, events(total))
        wait_until(lambda: len(rows(out)) >= total, 300, "the drain")
    finally:
        for worker in workers:
            stop(worker)
    handled = rows(out)
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, seq, _pid, _at in handled:
        by_key[key].append(seq)
    assert all(seqs == sorted(seqs) for seqs in by_key.values()), "per-key order broken"
    span_s = max(at for *_, at in handled) - min(at for *_, at in handled)
    return len(handled) / span_s


def takeover(url: str, tmp: Path) -> tuple[float, float]:
    stream, out, log = f"bench-{uuid.uuid4().hex[:8]}", tmp / "takeover.txt", tmp / "worker.log"
    victim, survivor = workers_for(url, stream, out, log, 2, ttl_s="10")
    try:
        publish(url, stream, events(1000))
        wait_until(lambda: len(rows(out)) >= 1000, 120, "the first events")
        lost = {p for p, owner in owners(url, stream).items() if str(victim.pid) in owner}
        killed_at = time.time()
        sigkill(victim)
        publish(url, stream, events(KEYS, first_seq=21))
        wait_until(lambda: len(rows(out)) >= 1000 + KEYS, 60, "the events after the kill")
    finally:
        for worker in (victim, survivor):
            stop(worker)
    from django_onestep.connectors.redis.partition_hash import partition_for

    moved = [at for key, _seq, _pid, at in rows(out)[1000:] if partition_for(key, 16) in lost]
    return min(moved) - killed_at, max(moved) - killed_at


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("ONESTEP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for count in (1, 2):
            rate = drain(args.url, args.n, count, tmp)
            print(f"drain, {count} worker(s), {args.n} events over {KEYS} keys: {rate:,.0f} events/s")
        first_s, last_s = takeover(args.url, tmp)
        print(f"takeover at lock_ttl_s=10: first event {first_s:.1f}s after the SIGKILL, all {last_s:.1f}s")


if __name__ == "__main__":
    main()
