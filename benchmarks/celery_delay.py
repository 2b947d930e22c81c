"""``.delay()`` enqueue rate from a sync caller: ``django_onestep.celery`` on the database
queue (SQLite, PostgreSQL) vs Celery on Redis, measured in one run.

    .venv/bin/python -m tests.servers start redis postgres && source .services/env
    python3 -m venv benchmarks/.celery-venv && benchmarks/.celery-venv/bin/pip install 'celery[redis]'
    .venv/bin/python benchmarks/celery_delay.py [--calls 2000] [--rounds 3]

Each leg is a fresh process that makes 200 untimed calls, then times ``--calls`` calls of
``add.delay(n, 1)`` one after another, as a view or a script would:

- ours, autocommit: each call writes and commits its job row (a caller outside a
  transaction);
- ours, in one transaction: the calls of a view that enqueues several jobs, one commit;
- Celery: each call publishes one message to Redis (``LPUSH``), with no result backend
  and with a Redis result backend (as most Django projects configure it).

The legs alternate over ``--rounds`` rounds (the machine's load moves); the median of
each is printed with every round in brackets. Nothing is run: only enqueueing is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CELERY_PYTHON = ROOT / "benchmarks" / ".celery-venv" / "bin" / "python"


def ours(calls: int, in_transaction: bool) -> float:
    """One leg, in this process: DJANGO_SETTINGS_MODULE and DATABASE_URL are set."""
    import django

    django.setup()
    from django.db import transaction

    from django_onestep.models import Job
    from testproject.testapp.celery_tasks import add

    queue = add.name
    Job.objects.filter(queue=queue).delete()
    for n in range(200):
        add.delay(n, 1)
    started = time.perf_counter()
    if in_transaction:
        with transaction.atomic():
            for n in range(calls):
                add.delay(n, 1)
    else:
        for n in range(calls):
            add.delay(n, 1)
    elapsed = time.perf_counter() - started
    assert Job.objects.filter(queue=queue).count() == calls + 200, "a call did not write its job"
    Job.objects.filter(queue=queue).delete()
    return calls / elapsed


def _leg(command: list[str], env: dict[str, str]) -> float:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["calls_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=os.environ.get("ONESTEP_TEST_PG_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("ONESTEP_TEST_REDIS_URL"))
    parser.add_argument("--leg", choices=("autocommit", "transaction"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.leg:  # a child: one leg of ours
        print(json.dumps({"calls_per_s": ours(args.calls, args.leg == "transaction")}))
        return
    if not (args.postgres_url and args.redis_url and CELERY_PYTHON.exists()):
        raise SystemExit("needs --postgres-url, --redis-url and benchmarks/.celery-venv (see the docstring)")

    sqlite_url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-delay-')}/db.sqlite3"
    base = {**os.environ, "DJANGO_SETTINGS_MODULE": "testproject.settings", "PYTHONPATH": str(ROOT)}
    for url in (sqlite_url, args.postgres_url):
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env={**base, "DATABASE_URL": url},
                       cwd=ROOT, check=True)  # fmt: skip
    ours_cmd = [sys.executable, __file__, "--calls", str(args.calls), "--leg"]
    peer_cmd = [str(CELERY_PYTHON), str(ROOT / "benchmarks" / "celery_delay_peer.py"), "--calls", str(args.calls),
                "--redis-url", args.redis_url]  # fmt: skip
    legs = {
        "ours, SQLite, autocommit": ([*ours_cmd, "autocommit"], {**base, "DATABASE_URL": sqlite_url}),
        "ours, SQLite, one transaction": ([*ours_cmd, "transaction"], {**base, "DATABASE_URL": sqlite_url}),
        "ours, PostgreSQL, autocommit": (
            [*ours_cmd, "autocommit"],
            {**base, "DATABASE_URL": args.postgres_url},
        ),
        "ours, PostgreSQL, one transaction": (
            [*ours_cmd, "transaction"],
            {**base, "DATABASE_URL": args.postgres_url},
        ),
        "Celery, Redis broker": (peer_cmd, dict(os.environ)),
        "Celery, Redis broker + result backend": ([*peer_cmd, "--result-backend"], dict(os.environ)),
    }
    rates: dict[str, list[float]] = {label: [] for label in legs}
    for round_no in range(args.rounds):
        order = list(legs.items()) if round_no % 2 == 0 else list(reversed(legs.items()))
        for label, (command, env) in order:
            rates[label].append(_leg(command, env))
    print(f".delay() from one sync caller, {args.calls} calls per leg, median of {args.rounds} rounds")
    for label, values in rates.items():
        print(f"  {label:40s} {statistics.median(values):8.0f} calls/s  {[round(v) for v in values]}")


if __name__ == "__main__":
    main()
