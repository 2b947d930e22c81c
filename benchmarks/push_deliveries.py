"""Push deliveries per second to a local endpoint, one ``onestep_worker`` process.

    .venv/bin/python benchmarks/push_deliveries.py --n 2000 --concurrency 4,16
    source .services/env && .venv/bin/python benchmarks/push_deliveries.py --db mariadb

For each concurrency: a fresh migrated database (SQLite file in /tmp, or a
``bench_push_<pid>`` database on the server named by ``ONESTEP_TEST_MYSQL_URL``), N
pushes written in one transaction, a loopback endpoint answering 200 at once (threads,
in this process), then one ``manage.py onestep_worker --tasks onestep.push`` process.
Prints deliveries per second from the first request the endpoint receives (the worker's
start-up is left out) to the last delivery marked succeeded, and the requests received (which must equal N). Unsigned and signed runs
(``--signed``) show what HMAC costs. Figures depend on the machine and its other load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


class Counter(BaseHTTPRequestHandler):
    received = 0
    first_at: float | None = None
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with Counter.lock:
            Counter.received += 1
            if Counter.first_at is None:
                Counter.first_at = time.perf_counter()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def database_url(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite3'}"
    base = urlsplit(os.environ["ONESTEP_TEST_MYSQL_URL"])
    return urlunsplit((base.scheme, base.netloc, f"/bench_push_{os.getpid()}", "", ""))


def mariadb_database(url: str, *, create: bool) -> None:
    import MySQLdb

    parts = urlsplit(url)
    conn = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username,
                           password=parts.password or "")  # fmt: skip
    cursor = conn.cursor()
    cursor.execute(f"DROP DATABASE IF EXISTS `{parts.path.lstrip('/')}`")
    if create:
        cursor.execute(f"CREATE DATABASE `{parts.path.lstrip('/')}` CHARACTER SET utf8mb4")
    conn.close()


def shell(env: dict[str, str], code: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return out.strip().splitlines()[-1] if out.strip() else ""


def run_once(db: str, n: int, concurrency: int, signed: bool, url: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        database = database_url(db, Path(tmp))
        if db == "mariadb":
            mariadb_database(database, create=True)
        env = {**os.environ, "DATABASE_URL": database, "DJANGO_SETTINGS_MODULE": "testproject.settings",
               "ONESTEP_TEST_PUSH": "1", "PYTHONPATH": str(ROOT)}  # fmt: skip
        try:
            subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
            signing = "'test'" if signed else "None"  # testproject/settings.py
            shell(env, "from django.db import transaction\n"
                  "from django_onestep import push\n"
                  "with transaction.atomic():\n"
                  f"    [push({url!r}, {{'n': i}}, signing={signing}) for i in range({n})]\n")  # fmt: skip
            Counter.received, Counter.first_at = 0, None
            count = "from django_onestep.models import PushDelivery as P; print(P.objects.filter(state='succeeded').count())"
            started = time.perf_counter()
            worker = subprocess.Popen([sys.executable, "manage.py", "onestep_worker", "--tasks", "onestep.push",
                                       "--concurrency", str(concurrency), "--log-level", "warning"],
                                      cwd=ROOT, env=env)  # fmt: skip
            try:
                while Counter.received < n:
                    time.sleep(0.05)
                    if worker.poll() is not None:
                        raise SystemExit(f"the worker exited with {worker.returncode}")
                while int(shell(env, count)) < n:
                    time.sleep(0.1)
                elapsed = time.perf_counter() - (Counter.first_at or started)
            finally:
                worker.terminate()
                worker.wait(60)
            return n / elapsed, Counter.received
        finally:
            if db == "mariadb":
                mariadb_database(database, create=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "mariadb"], default="sqlite")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", default="4,16")
    parser.add_argument("--signed", action="store_true")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        rate, received = run_once(args.db, args.n, concurrency, args.signed, url)
        print(f"{args.db} concurrency={concurrency} signed={args.signed}: "
              f"{rate:,.0f} deliveries/s ({received} requests for {args.n} pushes)")  # fmt: skip
    server.shutdown()


if __name__ == "__main__":
    main()
