"""The supervised pool at the issue's full scale (the acceptance tests run it shortened),
and the Step Functions heartbeat case at full length.

    source .services/env && .venv/bin/python benchmarks/pool.py

Prints, from one run of each:

- recycling: 30 one-second jobs through ``onestep_worker --processes 3
  --max-tasks-per-child 5`` (concurrency 1): peak concurrent worker pids, distinct pids,
  wall time;
- crash recovery: a job whose handler SIGKILLs its process on attempt 1, through
  ``--processes 3`` with a 2 s lease: time from the kill to the job's success on
  attempt 2, and to the pool's ``/readyz`` answering 200 with 3 children again;
- Step Functions: a 15-second handler against ``HeartbeatSeconds=5`` with 2-second
  heartbeats, on the local stand-in: the execution's status and duration.

The database is a fresh ``bench_onestep_<pid>`` on the MariaDB of
``ONESTEP_TEST_MYSQL_URL`` (several processes need a server database), dropped after.
The app is ``tests/acceptance/pool_app.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET = "tests.acceptance.pool_app:app"


def server_database() -> Any:
    base = os.environ.get("ONESTEP_TEST_MYSQL_URL")
    if not base:
        raise SystemExit("needs ONESTEP_TEST_MYSQL_URL (source .services/env)")
    import MySQLdb

    parts = urlsplit(base)
    name = f"bench_onestep_{os.getpid()}"
    admin: Any = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                                 passwd=parts.password or "")  # fmt: skip
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    finally:
        admin.cursor().execute(f"DROP DATABASE {name}")
        admin.close()


def runs(log: Path) -> list[tuple[str, int, int, float, float]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        name, pid, attempt, start, end = line.split()
        out.append((name, int(pid), int(attempt), float(start), float(end)))
    return out


def start_pool(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "onestep_worker", TARGET, "--tasks", "work", *args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop(pool: subprocess.Popen[bytes]) -> None:
    pool.send_signal(signal.SIGTERM)
    pool.wait(60)


def wait_for(predicate: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.02)


def recycling(env: dict[str, str], log: Path) -> None:
    from tests.acceptance.pool_app import pool_queue

    for i in range(30):
        pool_queue.send({"name": f"j{i}", "sleep_s": 1.0})
    started = time.monotonic()
    pool = start_pool(env, "--processes", "3", "--max-tasks-per-child", "5")
    wait_for(lambda: len(runs(log)) >= 30, 180)
    wall_s = time.monotonic() - started
    stop(pool)
    spans: dict[int, list[float]] = {}
    for _, pid, _, start, end in runs(log):
        span = spans.setdefault(pid, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    edges = sorted([(s, 1) for s, _ in spans.values()] + [(e, -1) for _, e in spans.values()])
    concurrent = peak = 0
    for _, step in edges:
        concurrent += step
        peak = max(peak, concurrent)
    print(f"recycling: 30 x 1 s jobs, --processes 3 --max-tasks-per-child 5: peak {peak} concurrent pids, "
          f"{len(spans)} distinct pids, {wall_s:.1f} s wall (incl. start-up)")  # fmt: skip


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(json.loads(response.read())["checks"]["pool"]["alive"] == 3)
    except (urllib.error.URLError, OSError):
        return False


def crash_recovery(env: dict[str, str], log: Path) -> None:
    from tests.acceptance.pool_app import pool_queue

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pool = start_pool(env, "--processes", "3", "--healthcheck-port", str(port))
    wait_for(lambda: ready(port), 60)
    killed_at = time.time()
    pool_queue.send({"name": "killer", "kill_on_attempt": 1})
    wait_for(lambda: not ready(port), 30)
    wait_for(lambda: ready(port), 60)
    back_s = time.time() - killed_at
    wait_for(lambda: any(r[0] == "killer" for r in runs(log)), 60)
    [(_, _, attempt, _, end)] = [r for r in runs(log) if r[0] == "killer"]
    stop(pool)
    print(f"crash recovery (lease 2 s): the pool ready with 3 children again {back_s:.1f} s after the job "
          f"was sent; the job succeeded on attempt {attempt} {end - killed_at:.1f} s after it was sent")  # fmt: skip


def step_functions() -> None:
    import boto3

    from django_onestep.connectors.stepfunctions import StepFunctionsConnector
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.testing.stepfunctions_local import LocalStepFunctions

    with LocalStepFunctions(poll_s=5.0) as local:
        client = boto3.session.Session().client(
            "stepfunctions", region_name="us-east-1", endpoint_url=local.url, **local.credentials
        )
        activity = client.create_activity(name="slow")["activityArn"]
        state = {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 5, "End": True}
        machine = client.create_state_machine(
            name="slow",
            definition=json.dumps({"StartAt": "S", "States": {"S": state}}),
            roleArn="arn:aws:iam::1:role/x",
        )["stateMachineArn"]
        connector = StepFunctionsConnector("us-east-1", endpoint_url=local.url, options=local.credentials)
        app = OneStepApp("slow")
        app.task(source=connector.activity(activity, heartbeat_s=2), name="slow")(
            lambda ctx, p: time.sleep(15) or "ok"
        )
        execution = client.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

        async def main() -> dict[str, Any]:
            serving = asyncio.create_task(app.serve())
            try:
                while True:
                    described = await asyncio.to_thread(client.describe_execution, executionArn=execution)
                    if described["status"] != "RUNNING":
                        return dict(described)
                    await asyncio.sleep(0.1)
            finally:
                app.request_shutdown()
                await serving
                await connector.close()

        started = time.monotonic()
        described = asyncio.run(main())
        print(f"step functions: 15 s handler, HeartbeatSeconds=5, heartbeat_s=2: {described['status']} "
              f"after {time.monotonic() - started:.1f} s, {local.heartbeats} heartbeats")  # fmt: skip


def main() -> None:
    sys.path.insert(0, str(ROOT))
    for db_url in server_database():
        os.environ["DATABASE_URL"] = db_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
            for name, bench in (("recycling", recycling), ("crash", crash_recovery)):
                log = Path(tmp) / f"{name}.log"
                bench({**env, "ONESTEP_TEST_RUN_LOG": str(log)}, log)
    step_functions()


if __name__ == "__main__":
    main()
