"""Flow control figures: the claim overhead of a rate limit, and ``60/m`` over three workers.

    .venv/bin/python benchmarks/flow_control.py [--jobs 5000] [--window-runs 150] [--database-url URL]

1. Overhead: drain ``--jobs`` jobs with ``fetch(100)`` + ``ack`` in this process, through
   an unlimited ``DatabaseQueue``, one with ``rate_limit="1000000/m"`` (far above the
   drain rate: only the window's bookkeeping is measured) and one with a
   ``concurrency_key`` (1000 keys); jobs/s of each and the mean time of one claim of
   100 jobs (the acks dominate the drain, so the claim time shows the overhead),
   best of three.
2. ``rate_limit="60/m"`` over three ``manage.py onestep_worker`` processes
   (``tests/acceptance/flow_app.py``): ``--window-runs`` jobs enqueued at once, the
   handlers' start times read back, and the most runs in any 60 s window.

SQLite in a temporary file by default; ``--database-url`` for MariaDB/PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def drain(queue: Any, jobs: int) -> tuple[float, float]:
    """Jobs/s of the whole drain, and the mean time of one claim of 100 jobs (ms)."""
    from asgiref.sync import sync_to_async

    await sync_to_async(queue.send_many, thread_sensitive=False)(
        [{"customer": n % 1000, "n": n} for n in range(jobs)]
    )
    await queue.open()
    started = time.perf_counter()
    done = claims = 0
    claiming_s = 0.0
    try:
        while done < jobs:
            before = time.perf_counter()
            deliveries = await queue.fetch(100)
            claiming_s += time.perf_counter() - before
            claims += 1
            for delivery in deliveries:
                await delivery.ack()
                done += 1
    finally:
        await queue.close()
    return jobs / (time.perf_counter() - started), claiming_s * 1000 / claims


def overhead(jobs: int) -> None:
    from django_onestep.dbqueue.queue import DatabaseQueue

    kinds = {
        "unlimited": {},
        "rate_limit=1000000/m": {"rate_limit": "1000000/m"},
        "concurrency_key (1000 keys)": {"concurrency_key": lambda p: p["customer"]},
    }
    for label, options in kinds.items():
        runs = []
        for _ in range(3):
            queue = DatabaseQueue(f"bench-{uuid.uuid4().hex[:8]}", prefetch=0, fetch_wait_s=0.05, **options)
            runs.append(asyncio.run(drain(queue, jobs)))
        rates = [rate for rate, _ms in runs]
        claim_ms = min(ms for _rate, ms in runs)
        print(
            f"{label:30s} {max(rates):8.0f} jobs/s (best of 3: {', '.join(f'{r:.0f}' for r in rates)}); "
            f"one claim of 100: {claim_ms:.2f} ms (best of 3)"
        )


def sixty_per_minute(manage: list[str], env: dict[str, str], runs: int, tmp: str) -> None:
    from django_onestep.dbqueue.queue import DatabaseQueue

    log = Path(tmp) / "runs.log"
    worker_env = {**env, "ONESTEP_TEST_RUN_LOG": str(log), "ONESTEP_TEST_RATE": "60/m"}
    workers = [
        subprocess.Popen(
            [*manage, "onestep_worker", "tests.acceptance.flow_app:app", "--tasks", "rated"],
            env=worker_env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    try:
        time.sleep(3)  # the workers start
        DatabaseQueue("flow-rated").send_many([{"n": n} for n in range(runs)])
        deadline = time.time() + runs + 90
        while time.time() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= runs:
                break
            time.sleep(1)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(60)
    lines = [line.split() for line in log.read_text().splitlines()]
    starts = sorted(float(start) for _task, _key, _pid, start, _end in lines)
    pids = {pid for _task, _key, pid, _start, _end in lines}
    busiest = max(sum(1 for s in starts[i:] if s < first + 60) for i, first in enumerate(starts))
    print(
        f"60/m over 3 workers: {len(starts)} runs by {len(pids)} processes in {starts[-1] - starts[0]:.1f} s; "
        f"most runs in any 60 s window: {busiest}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--window-runs", type=int, default=150)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-flow-")
    url = args.database_url or f"sqlite:///{tmp}/db.sqlite3"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "testproject.settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}  # fmt: skip
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    import django

    django.setup()
    overhead(args.jobs)
    if args.window_runs:
        sixty_per_minute(manage, env, args.window_runs, tmp)


if __name__ == "__main__":
    main()
