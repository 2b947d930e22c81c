"""MySQL/MariaDB tables: the table queue and the incremental source, rows/s and CPU µs per row.

    source .services/env && python benchmarks/mysql_tables.py --n 20000 --impl both \\
        --onestep-python /path/to/venv/bin/python --onestep-sql-path /path/to/unpacked/onestep_sql

Each measurement runs one worker process (a fresh subprocess, no-op handler) on a table
made for it: ``--n`` rows in status 'new' for the table queue (claim -> 'processing',
ack -> 'done'), ``--n`` rows with an ``updated_at`` for the incremental source (cursor
``(updated_at, id)``, in-memory cursor state). Throughput is from the first handler
start to the last; CPU is the worker process's CPU time over the same span.

``--impl onestep`` runs the same workload on onestep 1.15 + onestep-sql (SQLAlchemy +
asyncmy), which are not dependencies: give an interpreter that has onestep, SQLAlchemy
and asyncmy (``--onestep-python``) and the unpacked onestep-sql wheel
(``--onestep-sql-path``; ``pip download --no-deps onestep-sql`` + unzip).
The figures move with machine load: compare columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _execute(url: str, sql: str) -> None:
    import MySQLdb

    from django_onestep.connectors.mysql.dsn import connect_params

    conn = MySQLdb.connect(**connect_params(url))
    try:
        conn.cursor().execute(sql)
        conn.commit()
    finally:
        conn.close()


def make_table(url: str, workload: str, n: int) -> str:
    name = f"bench_{workload}_{uuid.uuid4().hex[:8]}"
    if workload == "queue":
        _execute(
            url, f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, status VARCHAR(20) NOT NULL, KEY (status, id))"
        )
        rows = ", ".join(f"({i}, 'new')" for i in range(1, n + 1))
        _execute(url, f"INSERT INTO {name} (id, status) VALUES {rows}")
    else:
        _execute(
            url,
            f"CREATE TABLE {name} (id BIGINT PRIMARY KEY, updated_at DATETIME(6) NOT NULL, KEY (updated_at, id))",
        )
        rows = ", ".join(f"({i}, '2026-01-01 00:00:00' + INTERVAL {i // 7} SECOND)" for i in range(1, n + 1))
        _execute(url, f"INSERT INTO {name} (id, updated_at) VALUES {rows}")
    return name


# -- worker subprocess -------------------------------------------------------------------


def _worker(
    impl: str, workload: str, url: str, table: str, n: int, concurrency: int, batch_size: int
) -> None:
    if impl == "ours":
        from django_onestep import MySQLConnector, OneStepApp
    else:
        from onestep import OneStepApp  # type: ignore[no-redef]
        from onestep_sql.mysql import MySQLConnector  # type: ignore[no-redef]

    # onestep-sql runs on SQLAlchemy's asyncio dialect: name its driver in the DSN.
    connector = MySQLConnector(url if impl == "ours" else url.replace("mysql://", "mysql+asyncmy://", 1))
    if workload == "queue":
        source = connector.table_queue(
            table=table, key="id", where="status = 'new'", claim={"status": "processing"},
            ack={"status": "done"}, batch_size=batch_size, poll_interval_s=0.2,
        )  # fmt: skip
    else:
        options: dict[str, Any] = {"poll_interval_s": 0.2}
        if impl == "ours":
            from django_onestep import InMemoryCursorStore

            options["state"] = InMemoryCursorStore()
        source = connector.incremental(
            table=table, key="id", cursor=["updated_at"], batch_size=batch_size * 10, **options
        )  # fmt: skip
    app = OneStepApp(f"bench-{impl}")
    seen: set[Any] = set()
    marks: dict[str, float] = {}

    @app.task(source=source, concurrency=concurrency)
    async def noop(ctx: Any, row: Any) -> None:
        if not seen:
            marks["wall0"], marks["cpu0"] = time.perf_counter(), time.process_time()
        seen.add(row["id"])
        if len(seen) == n:
            marks["wall1"], marks["cpu1"] = time.perf_counter(), time.process_time()
            ctx.app.request_shutdown()

    asyncio.run(app.serve())
    wall, cpu = marks["wall1"] - marks["wall0"], marks["cpu1"] - marks["cpu0"]
    print(json.dumps({"rows_per_s": n / wall, "cpu_us_per_row": cpu / n * 1e6}))


def measure(args: argparse.Namespace, impl: str, workload: str) -> dict[str, float]:
    table = make_table(args.url, workload, args.n)
    python = args.onestep_python if impl == "onestep" else sys.executable
    env = dict(os.environ)
    if impl == "onestep" and args.onestep_sql_path:
        env["PYTHONPATH"] = os.pathsep.join([args.onestep_sql_path, env.get("PYTHONPATH", "")])
    child = [python, __file__, "--child", impl, workload, table, "--url", args.url, "--n", str(args.n)]
    child += ["--concurrency", str(args.concurrency), "--batch-size", str(args.batch_size)]
    out = subprocess.run(child, env=env, capture_output=True, text=True, timeout=900, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{impl} {workload} failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    _execute(args.url, f"DROP TABLE {table}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=os.environ.get("ONESTEP_TEST_MYSQL_URL"))
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--impl", choices=("ours", "onestep", "both"), default="ours")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--onestep-python", default=sys.executable)
    parser.add_argument("--onestep-sql-path")
    parser.add_argument("--child", nargs=3, metavar=("IMPL", "WORKLOAD", "TABLE"))
    args = parser.parse_args()
    if not args.url:
        raise SystemExit("give --url mysql://... or set ONESTEP_TEST_MYSQL_URL")
    if args.child:
        impl, workload, table = args.child
        _worker(impl, workload, args.url, table, args.n, args.concurrency, args.batch_size)
        return
    impls = ("ours", "onestep") if args.impl == "both" else (args.impl,)
    for workload in ("queue", "incremental"):
        for impl in impls:
            runs = [measure(args, impl, workload) for _ in range(args.repeat)]
            best = max(runs, key=lambda r: r["rows_per_s"])
            print(
                f"{workload:12} {impl:8} n={args.n} concurrency={args.concurrency}: "
                f"{best['rows_per_s']:9,.0f} rows/s  {best['cpu_us_per_row']:7.1f} µs CPU/row",
                flush=True,
            )


if __name__ == "__main__":
    main()
