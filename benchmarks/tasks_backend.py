"""Django's Tasks framework: our backend vs django-tasks-db's ``db_worker``, and the
cost of storing results, measured in one run.

    .venv/bin/python benchmarks/tasks_backend.py [--tasks 2000] [--database-url URL]

1. ``@task`` functions: N no-op tasks (each returns a small dict) are enqueued through
   each backend, then one worker process runs them: ``manage.py onestep_worker --once``
   (our runner, ``CONCURRENCY`` 1 and 4) and ``manage.py db_worker --batch``.
   Tasks/s is N over the span from the first start to the last finish, read from the
   rows, so process start-up is not counted.
2. ``store_result``: N jobs of a ``DatabaseQueue`` task returning a small dict, run
   in-process with ``store_result=True`` and ``False``, alternating, median of five.

SQLite in a temporary file by default; ``--database-url`` for MariaDB/PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "benchmarks.tasks_backend_settings"


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def span_rate(count: int, starts: list, ends: list) -> float:  # type: ignore[type-arg]
    seconds = (max(ends) - min(starts)).total_seconds()
    return count / seconds if seconds > 0 else float("inf")


def bench_ours(env: dict[str, str], count: int, concurrency: int) -> float:
    from django.db import connections, transaction

    from benchmarks.tasks_backend_tasks import noop
    from django_onestep.models import Job

    Job.objects.all().delete()
    with transaction.atomic():
        for n in range(count):
            noop.enqueue(n)
    connections.close_all()
    manage({**env, "BENCH_CONCURRENCY": str(concurrency)}, "onestep_worker", "--tasks",
           "django.tasks:default:default", "--once")  # fmt: skip
    rows = list(
        Job.objects.filter(queue="django.tasks:default").values_list("status", "claimed_at", "finished_at")
    )
    assert [r[0] for r in rows] == ["done"] * count, "not every task ran"
    return span_rate(count, [r[1] for r in rows], [r[2] for r in rows])


def bench_db_worker(env: dict[str, str], count: int) -> float:
    from django.db import connections, transaction
    from django_tasks_db.models import DBTaskResult

    from benchmarks.tasks_backend_tasks import noop

    DBTaskResult.objects.all().delete()
    on_db = noop.using(backend="db")
    with transaction.atomic():
        for n in range(count):
            on_db.enqueue(n)
    connections.close_all()
    manage(
        env,
        "db_worker",
        "--backend",
        "db",
        "--batch",
        "--no-startup-delay",
        "--interval",
        "0.01",
        "--no-reload",
    )
    rows = list(DBTaskResult.objects.values_list("status", "started_at", "finished_at"))
    assert [r[0] for r in rows] == ["SUCCESSFUL"] * count, "not every task ran"
    return span_rate(count, [r[1] for r in rows], [r[2] for r in rows])


def bench_store_result(count: int, store_result: bool) -> float:
    from django.db import connections

    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.dbqueue.queue import DatabaseQueue
    from django_onestep.models import Job

    name = f"bench-store-{store_result}"
    Job.objects.filter(queue=name).delete()
    queue = DatabaseQueue(name, fetch_wait_s=0.05)
    app = OneStepApp("bench")

    @app.task(source=queue, concurrency=32, store_result=store_result)
    async def handler(ctx: object, payload: dict[str, int]) -> dict[str, object]:
        return {"n": payload["n"], "ok": True, "label": "thumbnail-small.png"}

    queue.send_many([{"n": n} for n in range(count)])
    connections.close_all()
    started = time.perf_counter()
    asyncio.run(app.serve(until_idle=True))
    elapsed = time.perf_counter() - started
    assert Job.objects.filter(queue=name, status="done").count() == count
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-tasks-")
    url = args.database_url or f"sqlite:///{tmp}/db.sqlite3"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": SETTINGS,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}  # fmt: skip
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    manage(env, "migrate", "--noinput")
    import django

    django.setup()
    from django.db import connection

    print(f"{args.tasks} tasks, {connection.vendor}, one worker process")
    results = {
        "onestep_worker, CONCURRENCY 1": bench_ours(env, args.tasks, 1),
        "onestep_worker, CONCURRENCY 4": bench_ours(env, args.tasks, 4),
        "django-tasks-db db_worker": bench_db_worker(env, args.tasks),
    }
    for label, rate in results.items():
        print(f"  {label:32s} {rate:8.0f} tasks/s")
    with_result, without = [], []
    for rep in range(5):  # alternating, the order flipped each round: the machine's load moves
        pair = [(with_result, True), (without, False)]
        for rates, store in pair if rep % 2 == 0 else reversed(pair):
            rates.append(bench_store_result(args.tasks * 5, store))
    mid_with, mid_without = statistics.median(with_result), statistics.median(without)
    print(f"store_result, {args.tasks * 5} jobs in-process (median of 5; all runs in brackets):")
    print(f"  store_result=False {mid_without:8.0f} jobs/s  {[round(r) for r in without]}")
    print(f"  store_result=True  {mid_with:8.0f} jobs/s  {[round(r) for r in with_result]}")
    print(f"  cost of storing: {(1 - mid_with / mid_without) * 100:+.1f}%")


if __name__ == "__main__":
    main()
