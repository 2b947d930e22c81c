"""Celery's side of benchmarks/celery_delay.py: ``.delay()`` calls on a Redis broker.

Run by celery_delay.py with the Python of ``benchmarks/.celery-venv`` (celery[redis]),
never imported by the package or the tests. Prints one JSON line: calls per second.
"""

from __future__ import annotations

import argparse
import json
import time

from celery import Celery


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--result-backend", action="store_true", help="also a Redis result backend")
    args = parser.parse_args()
    app = Celery("bench", broker=args.redis_url, backend=args.redis_url if args.result_backend else None)
    app.conf.update(task_serializer="json", broker_connection_retry_on_startup=True)

    @app.task(name="bench.add")
    def add(x: int, y: int) -> int:
        return x + y

    for n in range(200):  # warm-up: connections, kombu's queue declaration
        add.delay(n, 1)
    started = time.perf_counter()
    for n in range(args.calls):
        add.delay(n, 1)
    elapsed = time.perf_counter() - started
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    print(json.dumps({"calls_per_s": args.calls / elapsed}))


if __name__ == "__main__":
    main()
