"""The database queue beside its peers, same machine, same run, same no-op workload.

    source .services/env && .venv/bin/python -m benchmarks.peers

Needs the test servers (``python -m tests.servers start redis mariadb postgres``); the
peers' venvs are made under ``benchmarks/peers/.venvs/`` on first use from the pinned
requirements files, so the product's venv stays clean. Each row is one run of
``benchmarks/peers/run.py`` in its venv, on a fresh database: drain N queued no-op jobs
with the peer's own worker command, then a paced 500/s phase and single jobs after an
idle gap. Prints one table (Markdown).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENVS = HERE / ".venvs"

# row label, peer, venv ("product" is this interpreter), database, slow (runs n_slow jobs)
ROWS = [
    ("ours: onestep_worker, SQLite (rollback journal)", "ours", "product", "sqlite", False),
    ("ours: onestep_worker, SQLite WAL", "ours", "product", "sqlite-wal", False),
    (
        "ours: onestep_worker, SQLite WAL, a log line per success (LOG_SUCCESSES = True)",
        "ours-each-success",
        "product",
        "sqlite-wal",
        False,
    ),
    ("ours: onestep_worker, MariaDB", "ours", "product", "mariadb", False),
    ("ours: onestep_worker, PostgreSQL", "ours", "product", "postgres", False),
    (
        "ours, tuned bare OneStepApp (WAL+NORMAL, c=300, no telemetry), SQLite",
        "bare",
        "product",
        "sqlite-wal",
        False,
    ),
    ("django-tasks-db db_worker, SQLite (rollback journal)", "django-tasks-db", "django", "sqlite", True),
    ("django-tasks-db db_worker, SQLite WAL", "django-tasks-db", "django", "sqlite-wal", True),
    ("django-q2 qcluster (ORM broker), SQLite WAL", "django-q2", "django", "sqlite-wal", True),
    ("procrastinate worker, PostgreSQL", "procrastinate", "django", "postgres", True),
    ("Celery on Redis (solo pool)", "celery", "django", "redis", True),
    ("onestep 1.15 MemoryQueue", "onestep-memory", "onestep115", "", False),
    ("onestep 1.15 + onestep-redis stream", "onestep-redis", "onestep115", "redis", False),
]


def python_of(name: str) -> str:
    if name == "product":
        return sys.executable
    path = VENVS / name
    if not (path / "bin" / "python").exists():
        print(f"# creating {path} from requirements-{name}.txt", file=sys.stderr, flush=True)
        venv.create(path, with_pip=True)
        subprocess.run(
            [path / "bin" / "pip", "install", "-q", "-r", HERE / f"requirements-{name}.txt"], check=True
        )
    return str(path / "bin" / "python")


@contextmanager
def database(kind: str, tag: str) -> Iterator[tuple[str, bool]]:
    """A fresh database URL for one row (and whether to switch SQLite to WAL)."""
    if kind.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3", kind == "sqlite-wal"
        return
    if kind in {"", "redis"}:
        url = os.environ.get("ONESTEP_TEST_REDIS_URL", "") if kind else ""
        yield (url.rsplit("/", 1)[0] + "/7" if url else ""), False
        return
    env_name = {"mariadb": "ONESTEP_TEST_MYSQL_URL", "postgres": "ONESTEP_TEST_PG_URL"}[kind]
    base = os.environ.get(env_name)
    if not base:
        raise SystemExit(f"{env_name} is not set: start the servers and 'source .services/env'")
    parts, name = urlsplit(base), f"bench_peers_{tag}_{os.getpid()}"
    admin = _admin(kind, base)
    admin(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", "")), False
    finally:
        admin(f"DROP DATABASE {name}" + (" WITH (FORCE)" if kind == "postgres" else ""))


def _admin(kind: str, url: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(url)
    if kind == "mariadb":
        import MySQLdb

        def run(sql: str) -> None:
            conn = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                                   passwd=parts.password or "")  # fmt: skip
            conn.cursor().execute(sql)
            conn.close()

        return run
    import psycopg

    def run_pg(sql: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    return run_pg


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10000, help="jobs drained by the fast rows")
    parser.add_argument(
        "--n-slow", type=int, default=1000, help="jobs drained by the peers that run < 1,000/s"
    )
    parser.add_argument("--only", help="run the rows whose label contains this text")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = []
    started = time.monotonic()
    for i, (label, peer, env, kind, slow) in enumerate(ROWS):
        if args.only and args.only.lower() not in label.lower():
            continue
        python = python_of(env)
        n = args.n_slow if slow else args.n
        with database(kind, str(i)) as (url, wal):
            cmd = [
                python,
                "-m",
                "benchmarks.peers.run",
                peer,
                "--db",
                url,
                "--n",
                str(n),
                *(["--wal"] if wal else []),
            ]
            print(f"# {label}: n={n}", file=sys.stderr, flush=True)
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"# {label} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
            results.append({"label": label, "n": n, "error": done.stderr.strip().splitlines()[-1:]})
            continue
        results.append({"label": label, "n": n, **json.loads(done.stdout.strip().splitlines()[-1])})
    print_table(results, time.monotonic() - started)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def print_table(results: list[dict[str, object]], elapsed_s: float) -> None:
    print(f"\nOne run, {time.strftime('%Y-%m-%d %H:%M')}, {elapsed_s / 60:.1f} min, load average "
          f"{os.getloadavg()[0]:.1f}:\n")  # fmt: skip
    print(
        "| | N | tasks/s | CPU µs/task | latency at 500/s p50 / p99 ms | from idle p50 / max ms | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        if "error" in r:
            print(f"| {r['label']} | {r['n']} | failed: {r['error']} | | | | |")
            continue
        print(f"| {r['label']} | {r['n']:,} | {r['tasks_per_s']:,.0f} | {r['cpu_us_per_task']:,.0f} | "
              f"{r['paced_p50_ms']:,.1f} / {r['paced_p99_ms']:,.1f} | {r['idle_p50_ms']:,.1f} / {r['idle_max_ms']:,.1f} | "
              f"{r['peak_rss_mb']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
