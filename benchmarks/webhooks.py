"""Accepted webhook deliveries per second through gunicorn (2 workers) and uvicorn.

    .venv/bin/python benchmarks/webhooks.py --n 2000 --clients 8 --workers 1,2
    source .services/env && .venv/bin/python benchmarks/webhooks.py --db mariadb --n 2000

For each server: a fresh migrated database (SQLite file in /tmp, or a
``bench_onestep_<pid>`` database on the server named by ``ONESTEP_TEST_MYSQL_URL``), the
test webhook site (``tests/acceptance/webhook_site.py``) on a loopback port with
``--workers`` server processes, then N
GitHub-signed deliveries with distinct delivery ids from ``--clients`` threads, one
connection per request. Prints, per server, the accepted (202) deliveries per second,
p50/p99 answer time, and the inbox rows written (which must equal N). No worker runs:
this measures the web side only. Figures depend on the machine and its other load.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"gh-secret"  # tests/acceptance/webhookapp/settings_values.py
SERVERS = {
    "gunicorn": ["-m", "gunicorn", "-w", "{workers}", "-b", "127.0.0.1:{port}", "--no-control-socket",
                 "--log-level", "warning", "tests.acceptance.webhook_site:wsgi"],
    "uvicorn": ["-m", "uvicorn", "--workers", "{workers}", "--host", "127.0.0.1", "--port", "{port}",
                "--no-access-log", "--log-level", "warning", "tests.acceptance.webhook_site:asgi"],
}  # fmt: skip


def database_url(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite3'}"
    base = urlsplit(os.environ["ONESTEP_TEST_MYSQL_URL"])
    return urlunsplit((base.scheme, base.netloc, f"/bench_onestep_{os.getpid()}", "", ""))


def django_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "tests.acceptance.webhook_settings",
        "PYTHONPATH": str(ROOT),
    }


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def mariadb_database(url: str, *, create: bool) -> None:
    """Create the benchmark's database afresh, or drop it."""
    import MySQLdb

    parts = urlsplit(url)
    conn = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username,
                           password=parts.password or "")  # fmt: skip
    cursor = conn.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS `{parts.path.lstrip('/')}`")
    if create:
        cursor.execute(f"CREATE DATABASE `{parts.path.lstrip('/')}` CHARACTER SET utf8mb4")
    conn.close()


def inbox_rows(env: dict[str, str]) -> int:
    code = "from django_onestep.models import Job; print(Job.objects.filter(queue='webhook:github').count())"
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def delivery(index: int) -> bytes:
    body = json.dumps({"ref": "refs/heads/main", "n": index}).encode()
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    head = (
        "POST /onestep/hooks/github HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Hub-Signature-256: sha256={signature}\r\nX-GitHub-Event: push\r\n"
        f"X-GitHub-Delivery: bench-{index}\r\n\r\n"
    )
    return head.encode() + body


def post(port: int, data: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return int(received.split(b" ", 2)[1])


def load(port: int, n: int, clients: int) -> dict[str, float]:
    requests = [delivery(i) for i in range(n)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(n))

    def client() -> None:
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            started = time.perf_counter()
            status = post(port, requests[index])
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    latencies.sort()
    return {
        "accepted": statuses.get(202, 0),
        "other_statuses": sum(count for status, count in statuses.items() if status != 202),
        "accepted_per_s": round(statuses.get(202, 0) / wall_s, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


def bench(server: str, db: str, n: int, clients: int, workers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url(db, Path(tmp))
        if db == "mariadb":
            mariadb_database(url, create=True)
        try:
            return run_server(server, db, n, clients, workers, url)
        finally:
            if db == "mariadb":
                mariadb_database(url, create=False)


def wait_listening(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run_server(server: str, db: str, n: int, clients: int, workers: int, url: str) -> dict[str, object]:
    env = django_env(url)
    manage(env, "migrate", "-v", "0")
    port = free_port()
    args = [arg.format(port=port, workers=workers) for arg in SERVERS[server]]
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env)
    try:
        wait_listening(port)
        post(port, delivery(-1))  # warm up: imports, first connection
        result: dict[str, object] = {**load(port, n, clients)}
    finally:
        proc.terminate()
        proc.wait()
    result["inbox_rows"] = inbox_rows(env) - 1  # minus the warm-up delivery
    return {"server": server, "workers": workers, "db": db, "n": n, "clients": clients, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="deliveries per server (bounded)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--servers", default="gunicorn,uvicorn")
    parser.add_argument("--workers", default="2", help="server processes, e.g. 2 or 1,2 (each is a run)")
    options = parser.parse_args()
    for workers in options.workers.split(","):
        for server in options.servers.split(","):
            result = bench(server, options.db, options.n, options.clients, int(workers))
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
