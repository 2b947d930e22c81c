"""Chain step latency: how long a chain takes per step, and the hand-off between steps.

    .venv/bin/python benchmarks/chain_latency.py [--steps 50] [--chains 5] [--database-url URL]

One ``manage.py onestep_worker`` process runs ``benchmarks/workflow_tasks.py``; the
script starts ``--chains`` chains of ``--steps`` no-op steps one after the other and
reads the job rows:

- per step: a chain's wall time (``apply_async()`` to ``get()`` returning) over its steps;
- hand-off: a step's ``claimed_at`` minus the previous step's ``finished_at``, the time
  from one step's ack (which enqueues the next, in the same transaction) to a worker
  starting the next.

SQLite in a temporary file by default; ``--database-url`` for MariaDB/PostgreSQL.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--chains", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-chain-")
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
    from django.db import connection

    from benchmarks import workflow_tasks
    from django_onestep.celery import chain
    from django_onestep.models import Job, WorkflowStep
    from django_onestep.workflows import step

    log = Path(tmp) / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([*manage, "onestep_worker", "benchmarks.workflow_tasks:app"],
                                  env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        while b"onestep worker pid" not in log.read_bytes():
            time.sleep(0.05)
        per_step_ms: list[float] = []
        handoffs_ms: list[float] = []
        for _ in range(args.chains):
            calls = [step(workflow_tasks.next_number, 0)] + [step(workflow_tasks.next_number)] * (
                args.steps - 1
            )
            started = time.perf_counter()
            result = chain(*calls).apply_async()
            assert result.get(timeout=120) == args.steps
            per_step_ms.append((time.perf_counter() - started) * 1000 / args.steps)
            job_ids = list(
                WorkflowStep.objects.filter(workflow_id=result.workflow_id)
                .order_by("stage")
                .values_list("job_id", flat=True)
            )
            times = dict(Job.objects.filter(id__in=job_ids).values_list("id", "claimed_at"))
            ends = dict(Job.objects.filter(id__in=job_ids).values_list("id", "finished_at"))
            for before, after in itertools.pairwise(job_ids):
                handoffs_ms.append((times[after] - ends[before]).total_seconds() * 1000)
    finally:
        worker.terminate()
        worker.wait(30)
    handoffs_ms.sort()
    print(f"{args.chains} chains of {args.steps} steps, {connection.vendor}, one worker process")
    print(f"  per step (chain wall time / steps): median {statistics.median(per_step_ms):.1f} ms "
          f"(each chain: {', '.join(f'{v:.1f}' for v in per_step_ms)})")  # fmt: skip
    p95 = handoffs_ms[int(len(handoffs_ms) * 0.95)]
    print(f"  hand-off (ack to next claim): median {statistics.median(handoffs_ms):.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
