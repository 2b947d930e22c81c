"""Benchmark batch submissions (SQLite or MariaDB).

    source .services/env && .venv/bin/python benchmarks/submissions.py --db mariadb

Prints:

* submit rate: ``submit`` streaming 1,000,000 ints in chunks of 1,000 (ops/s);
* throughput of no-op operations through real ``manage.py onestep_worker`` processes
  (``tests.acceptance.submission_app``: ``echo`` runs one op per call, ``slow`` with no
  sleep one chunk per call) at chunk sizes 100 and 1,000 with one and two processes,
  timed from the submission's commit to its completion (workers started beforehand);
* the full-size done-when run: 100,000 ints, ``chunk_size=1000``, four processes;
* reservation latency (``reserve_chunk``, p50/p99 over 300 reservations) per strategy
  with 10,000, 100,000 and 1,000,000 pending chunks, bulk-inserted directly.

The database is a fresh temporary one (SQLite file in /tmp, or a ``bench_subs_<pid>``
database on the server named by ``ONESTEP_TEST_MYSQL_URL``), migrated, dropped after.
Figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET = "tests.acceptance.submission_app:app"


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_workers(db_url: str, task: str, count: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": db_url, "ONESTEP_TEST_SLOW_S": "0"}
    env.pop("ONESTEP_TEST_RUN_LOG", None)
    workers = []
    for _ in range(count):
        log = tempfile.NamedTemporaryFile(prefix="bench-worker-", suffix=".log", delete=False)
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "onestep_worker", TARGET, "--tasks", task],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        proc.log_path = log.name  # type: ignore[attr-defined]
        workers.append(proc)
    for proc in workers:
        deadline = time.monotonic() + 120
        while "onestep worker pid" not in Path(proc.log_path).read_text(errors="replace"):  # type: ignore[attr-defined]
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(Path(proc.log_path).read_text(errors="replace"))  # type: ignore[attr-defined]
            time.sleep(0.1)
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.wait(60)
        os.unlink(proc.log_path)  # type: ignore[attr-defined]


def drain_rate(db_url: str, queue: str, task: str, n: int, chunk_size: int, processes: int) -> float:
    from django_onestep import submit

    workers = start_workers(db_url, task, processes)
    try:
        started = time.perf_counter()
        submission = submit(queue, range(n), chunk_size=chunk_size)
        while submission.status == "running":
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        assert submission.status == "completed", submission.status
    finally:
        stop_workers(workers)
    return n / elapsed


def bench_submit(n: int) -> None:
    from django_onestep import submit

    started = time.perf_counter()
    submit("bench-submit", range(n), chunk_size=1000)
    elapsed = time.perf_counter() - started
    print(f"submit rate ({n:,} ints, chunks of 1,000): {n / elapsed:12,.0f} ops/s")


def bench_throughput(db_url: str, n: int) -> None:
    for label, queue, task in (("per op", "acc-ints", "echo"), ("per chunk", "acc-slow", "slow")):
        for chunk_size in (100, 1000):
            for processes in (1, 2):
                rate = drain_rate(db_url, queue, task, n, chunk_size, processes)
                print(
                    f"no-op ops {label:9}, chunk {chunk_size:5}, {processes} process(es): {rate:10,.0f} ops/s"
                )


def fill(backlog: int, already: int) -> None:
    """Pending chunks up to ``backlog``: ten submissions of three submitters, bulk-inserted."""
    from django.utils import timezone

    from django_onestep.models import SubmissionChunk, SubmissionRecord

    records = list(SubmissionRecord.objects.filter(queue="bench-reserve").order_by("id"))
    if not records:
        now = timezone.now()
        records = [
            SubmissionRecord.objects.create(queue="bench-reserve", chunk_size=1, metadata={"tenant": f"t{i % 3}"},
                                            created_at=now)
            for i in range(10)
        ]  # fmt: skip
    from django.db import connection

    if connection.vendor == "mysql":  # MariaDB's sequence engine: a million rows in seconds
        with connection.cursor() as cursor:
            for r, record in enumerate(records):
                cursor.execute(
                    "INSERT INTO django_onestep_submissionchunk (submission_id, queue, `index`, status, ops, "
                    "payload, payload_file, attempts, error) "
                    f"SELECT %s, 'bench-reserve', seq, 'pending', 1, '[1]', '', 0, '' FROM seq_{already}_to_{backlog - 1} "
                    f"WHERE MOD(seq, {len(records)}) = {r}",
                    [record.id],
                )
    else:
        batch = 5000
        for start in range(already, backlog, batch):
            rows = [
                SubmissionChunk(
                    submission=records[i % len(records)], queue="bench-reserve", index=i, ops=1, payload=[i]
                )
                for i in range(start, min(start + batch, backlog))
            ]
            SubmissionChunk.objects.bulk_create(rows)
    for record in records:
        SubmissionRecord.objects.filter(id=record.id).update(chunks_total=backlog)


def bench_reservation(levels: list[int], samples: int) -> None:
    from django.utils import timezone

    from django_onestep import prefer_distinct
    from django_onestep.models import SubmissionChunk
    from django_onestep.submissions.reserve import reserve_chunk

    strategies: list[Any] = ["oldest", "newest", "random", prefer_distinct("tenant")]
    already = 0
    for backlog in levels:
        started = time.perf_counter()
        fill(backlog, already)
        already = backlog
        print(f"backlog {backlog:>9,} pending chunks (inserted in {time.perf_counter() - started:.1f} s)")
        for strategy in strategies:
            timings = []
            for _ in range(samples):
                begin = time.perf_counter()
                chunk = reserve_chunk(
                    "default",
                    "bench-reserve",
                    strategy,
                    token=uuid.uuid4().hex,
                    lease_s=60,
                    now=timezone.now(),
                )
                timings.append((time.perf_counter() - begin) * 1000)
                assert chunk is not None
            # give them back so every strategy sees the same backlog
            SubmissionChunk.objects.filter(queue="bench-reserve", status="reserved").update(
                status="pending", token=None, reserved_until=None, attempts=0
            )
            timings.sort()
            p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
            print(f"  {strategy!s:26} p50 {statistics.median(timings):7.2f} ms   p99 {p99:7.2f} ms")


def bench(args: argparse.Namespace, db_url: str) -> None:
    setup_django(db_url)
    if "submit" in args.parts:
        bench_submit(args.submit_n)
    if "throughput" in args.parts:
        bench_throughput(db_url, args.n)
    if "full" in args.parts:
        rate = drain_rate(db_url, "acc-ints", "echo", 100_000, 1000, 4)
        print(f"100,000 ints, chunks of 1,000, four processes: {100_000 / rate:.1f} s ({rate:,.0f} ops/s)")
    if "reserve" in args.parts:
        bench_reservation(args.levels, args.samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--n", type=int, default=100_000, help="operations per throughput run")
    parser.add_argument("--submit-n", type=int, default=1_000_000)
    parser.add_argument("--levels", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--parts", nargs="+", default=["submit", "throughput", "full", "reserve"],
        choices=["submit", "throughput", "full", "reserve"],
    )  # fmt: skip
    args = parser.parse_args()
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            bench(args, f"sqlite:///{tmp}/bench.sqlite3")
        return
    base = os.environ.get("ONESTEP_TEST_MYSQL_URL")
    if not base:
        raise SystemExit("--db mariadb needs ONESTEP_TEST_MYSQL_URL (source .services/env)")
    import MySQLdb

    parts = urlsplit(base)
    name = f"bench_subs_{os.getpid()}"
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
