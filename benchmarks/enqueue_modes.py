"""Enqueue rate from a sync caller per broker and mode, and the outbox relay's throughput.

    source .services/env   # redis, rabbitmq and moto started by `python -m tests.servers`
    .venv/bin/python benchmarks/enqueue_modes.py --n 2000 --brokers redis rabbitmq sqs

For each broker, one thread enqueues N messages with ``queue.send(payload)``:

* direct: outside a transaction (published during the call, confirm awaited);
* on commit: each inside its own ``transaction.atomic()`` with one order row, so the
  publish runs in the commit's callbacks (what a view does);
* outbox: the same transaction, the message written to the outbox table.

Then one relay (``OutboxRelay.drain``) publishes the N outbox rows: relay throughput.
The database is a fresh SQLite file (WAL), deleted after. Queues are fresh per run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(db_path: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def rate(n: int, started: float) -> str:
    return f"{n / (time.perf_counter() - started):8.0f}/s"


def run(kind: str, n: int) -> None:
    from django.db import transaction

    from django_onestep.models import OutboxMessage
    from django_onestep.outbox.relay import OutboxRelay
    from testproject.testapp.models import Order
    from tests.broker_queues import broker_queue, new_queue_name

    queue = broker_queue(kind, new_queue_name(kind))
    queue.send({"warm": "up"})  # connect outside the timings
    started = time.perf_counter()
    for i in range(n):
        queue.send({"i": i})
    direct = rate(n, started)
    started = time.perf_counter()
    for i in range(n):
        with transaction.atomic():
            Order.objects.create(reference=f"{kind}-c-{i}")
            queue.send({"i": i})
    on_commit = rate(n, started)
    started = time.perf_counter()
    for i in range(n):
        with transaction.atomic():
            Order.objects.create(reference=f"{kind}-o-{i}")
            queue.send({"i": i}, outbox=True)
    outbox = rate(n, started)
    started = time.perf_counter()
    published = OutboxRelay(using="default").drain()
    relay = rate(published, started)
    assert published == n and not OutboxMessage.objects.exists()
    print(f"{kind:9} direct {direct}  on commit {on_commit}  outbox {outbox}  relay {relay}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--brokers", nargs="+", default=["redis", "rabbitmq", "sqs"])
    args = parser.parse_args()
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(key, value)
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp) / "bench.sqlite3")
        print(f"N={args.n} per mode, one sync caller thread, SQLite (WAL)")
        for kind in args.brokers:
            run(kind, args.n)
        from django_onestep.connectors.publisher_thread import shutdown

        shutdown()


if __name__ == "__main__":
    main()
