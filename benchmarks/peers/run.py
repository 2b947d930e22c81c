"""Measure one row of the peers table inside its venv; prints one JSON line.

python -m benchmarks.peers.run ours --db sqlite:////tmp/x.sqlite3 --n 10000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

from benchmarks.peers import harness


def build(args: argparse.Namespace) -> harness.Peer:
    from benchmarks.peers import contenders as c

    if args.peer == "ours-each-success":  # the peers' settings read it (a line per success)
        os.environ["PEER_LOG_SUCCESSES"] = "1"
        return c.Ours(args.db, args.wal, args.concurrency)
    if args.peer in {"ours", "bare", "django-tasks-db", "django-q2"}:
        cls = {"ours": c.Ours, "bare": c.Bare, "django-tasks-db": c.DjangoTasksDb, "django-q2": c.DjangoQ2}
        return cls[args.peer](args.db, args.wal, args.concurrency)
    if args.peer == "procrastinate":
        return c.Procrastinate(args.db, args.concurrency)
    if args.peer == "celery":
        return c.Celery(args.db)
    return c.Onestep115(args.db if args.peer == "onestep-redis" else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("peer")
    parser.add_argument("--db", default="")
    parser.add_argument("--wal", action="store_true")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--paced-s", type=float, default=3.0)
    parser.add_argument("--idle-n", type=int, default=6)
    parser.add_argument("--gap-s", type=float, default=1.5)
    args = parser.parse_args()
    figures = harness.Figures()
    started = time.monotonic()
    peer = build(args)
    harness.drain(peer, args.n, figures, timeout_s=max(120.0, args.n / 50))
    harness.latency(peer, args.rate, args.paced_s, args.idle_n, args.gap_s, figures)
    figures.notes.append(f"{time.monotonic() - started:.0f} s")
    print(json.dumps(dataclasses.asdict(figures)), flush=True)


if __name__ == "__main__":
    main()
