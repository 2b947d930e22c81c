"""Benchmark the DatabaseQueue with one worker process (SQLite or MariaDB).

    .venv/bin/python benchmarks/dbqueue.py --db sqlite --n 20000
    source .services/env && .venv/bin/python benchmarks/dbqueue.py --db mariadb --n 20000

Prints, for N no-op jobs drained by one worker process running the real runtime
(``OneStepApp.serve`` with an async no-op handler):

* enqueue rate: ``queue.send_many`` (bulk, batches of 500) and ``queue.send`` (one
  INSERT per job, autocommit);
* drain throughput, worker CPU per task and peak RSS (concurrency 300 = three claim
  batches of 100 in flight, so claims and acks overlap execution);
* enqueue-to-start latency p50/p99 while a producer sends 500 jobs/s, one at a time;
* idle CPU of the waiting worker (% of one core over a few seconds).

The database is a fresh temporary one (SQLite file in /tmp, or a ``bench_onestep_<pid>``
database on the server named by ``ONESTEP_TEST_MYSQL_URL``), migrated, dropped after.
Figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "bench"


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ----- worker process roles -----------------------------------------------------------


def run_drain(args: argparse.Namespace) -> None:
    """Drain ``n`` jobs; print throughput, CPU per task and RSS as JSON."""
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.dbqueue.queue import DatabaseQueue

    app = OneStepApp("bench")
    queue = DatabaseQueue(QUEUE, batch_size=args.batch_size, fetch_wait_s=0.2)
    done = {"count": 0, "at": 0.0}

    recorder = None
    if args.telemetry:  # what onestep_worker attaches: events are built for every delivery
        from django_onestep.orm.telemetry import MetricsRecorder

        recorder = MetricsRecorder("bench")
        app.on_event(recorder)

    @app.task(source=queue, concurrency=args.concurrency)
    async def noop(ctx: Any, payload: Any) -> None:
        done["count"] += 1
        if done["count"] == args.n:
            done["at"] = time.perf_counter()

    async def serve() -> None:
        if recorder is not None:
            await recorder.start()
        await app.serve(until_idle=True)
        if recorder is not None:
            await recorder.stop()

    cpu_before, started = cpu_s(), time.perf_counter()
    asyncio.run(serve())
    elapsed = (done["at"] or time.perf_counter()) - started
    cpu_used = cpu_s() - cpu_before
    print(
        json.dumps(
            {
                "processed": done["count"],
                "elapsed_s": elapsed,
                "throughput": done["count"] / elapsed,
                "cpu_us_per_task": cpu_used / max(done["count"], 1) * 1e6,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        ),
        flush=True,
    )


def run_latency_worker(args: argparse.Namespace) -> None:
    """Run until ``n`` jobs arrived; print each job's enqueue-to-start latency."""
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.dbqueue.queue import DatabaseQueue

    app = OneStepApp("bench-latency")
    queue = DatabaseQueue(QUEUE, batch_size=args.batch_size)
    latencies_ms: list[float] = []

    @app.task(source=queue, concurrency=args.concurrency)
    async def noop(ctx: Any, payload: Any) -> None:
        latencies_ms.append((time.time() - payload["t"]) * 1000)
        if len(latencies_ms) == args.n:
            app.request_shutdown()

    print("ready", flush=True)
    asyncio.run(app.serve())
    print(json.dumps({"latencies_ms": latencies_ms}), flush=True)


# ----- the driver -------------------------------------------------------------------------


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn(role: str, db_url: str, args: argparse.Namespace, n: int) -> subprocess.Popen[str]:
    cmd = [
        sys.executable, __file__, "--role", role, "--db-url", db_url, "--n", str(n),
        "--concurrency", str(args.concurrency), "--batch-size", str(args.batch_size),
        *(["--telemetry"] if args.telemetry else []),
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)


def last_json(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"worker failed with {proc.returncode}:\n{out}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def clear_jobs() -> None:
    from django_onestep.models import Job

    Job.objects.all().delete()


def bench(args: argparse.Namespace, db_url: str) -> None:
    setup_django(db_url)
    from django.core.management import call_command
    from django.db import connection

    from django_onestep.dbqueue.queue import DatabaseQueue

    call_command("migrate", verbosity=0)
    vendor = f"{connection.vendor} {connection.Database.__name__}"
    queue = DatabaseQueue(QUEUE)
    print(f"# DatabaseQueue benchmark: {args.db} ({vendor}), n={args.n}, concurrency={args.concurrency}, "
          f"batch_size={args.batch_size}, telemetry={args.telemetry}")  # fmt: skip

    started = time.perf_counter()
    queue.send_many([{"i": i} for i in range(args.n)])
    bulk_rate = args.n / (time.perf_counter() - started)
    single_n = min(args.n, 2000)
    clear_jobs()
    started = time.perf_counter()
    for i in range(single_n):
        queue.send({"i": i})
    single_rate = single_n / (time.perf_counter() - started)
    clear_jobs()
    queue.send_many([{"i": i} for i in range(args.n)])
    print(f"enqueue (send_many, bulk 500):  {bulk_rate:10,.0f} jobs/s")
    print(f"enqueue (send, one per job):    {single_rate:10,.0f} jobs/s")

    drains = [last_json(spawn("drain", db_url, args, args.n))]
    for _ in range(args.repeat - 1):
        clear_jobs()
        queue.send_many([{"i": i} for i in range(args.n)])
        drains.append(last_json(spawn("drain", db_url, args, args.n)))
    best = max(drains, key=lambda d: d["throughput"])
    runs = ", ".join(f"{d['throughput']:,.0f}" for d in drains)
    print(f"drain throughput:               {best['throughput']:10,.0f} tasks/s  (runs: {runs})")
    print(f"worker CPU per task:            {best['cpu_us_per_task']:10,.1f} us")
    print(f"worker peak RSS:                {best['rss_mb']:10,.1f} MB")

    clear_jobs()
    count = args.rate * args.latency_s
    worker = spawn("latency", db_url, args, count)
    assert worker.stdout is not None
    worker.stdout.readline()  # "ready"
    time.sleep(2.0)  # let it open and settle into idle polling
    idle_cpu_before = proc_cpu_s(worker.pid)
    time.sleep(args.idle_s)
    idle_pct = (proc_cpu_s(worker.pid) - idle_cpu_before) / args.idle_s * 100
    interval = 1.0 / args.rate
    next_at = time.perf_counter()
    for _ in range(count):
        queue.send({"t": time.time()})
        next_at += interval
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    latencies = sorted(last_json(worker)["latencies_ms"])
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"idle worker CPU:                {idle_pct:10.2f} % of one core")
    print(f"latency at {args.rate}/s (p50/p99):    {p50:6.1f} / {p99:.1f} ms  ({len(latencies)} jobs)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--latency-s", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument(
        "--telemetry", action="store_true", help="attach MetricsRecorder, as onestep_worker does"
    )
    parser.add_argument("--role", choices=["drain", "latency"], help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role:
        setup_django(args.db_url)
        (run_drain if args.role == "drain" else run_latency_worker)(args)
        return
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            bench(args, f"sqlite:///{tmp}/bench.sqlite3")
        return
    base = os.environ.get("ONESTEP_TEST_MYSQL_URL")
    if not base:
        raise SystemExit("--db mariadb needs ONESTEP_TEST_MYSQL_URL (source .services/env)")
    import MySQLdb

    parts = urlsplit(base)
    name = f"bench_onestep_{os.getpid()}"
    server = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                             passwd=parts.password or "")  # fmt: skip
    server.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        bench(args, urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, "")))
    finally:
        server.cursor().execute(f"DROP DATABASE {name}")
        server.close()


if __name__ == "__main__":
    main()
