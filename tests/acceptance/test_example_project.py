"""``make demo`` by hand: migrate, demo_setup, worker + runserver, curl the order view."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.acceptance.conftest import ROOT

EXAMPLE = ROOT / "example_project"
pytestmark = pytest.mark.sqlite_only


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(url: str, data: dict | None = None) -> tuple[int, dict]:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_until(predicate, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def test_demo_end_to_end(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=EXAMPLE,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert manage("migrate", "--noinput").returncode == 0
    setup = manage("demo_setup")
    assert setup.returncode == 0, setup.stderr
    assert "created superuser admin / admin" in setup.stdout
    assert "curl -s -X POST http://127.0.0.1:8000/orders/" in setup.stdout
    assert "superuser 'admin' already exists" in manage("demo_setup").stdout
    assert manage("check", "--fail-level", "WARNING").returncode == 0

    port = _free_port()
    logs = tmp_path / "worker.log", tmp_path / "web.log"
    with logs[0].open("wb") as worker_log, logs[1].open("wb") as web_log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "onestep_worker"],
            cwd=EXAMPLE,
            env=env,
            stdout=worker_log,
            stderr=worker_log,
        )
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=EXAMPLE,
            env=env,
            stdout=web_log,
            stderr=web_log,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until(lambda: _try(lambda: _request(f"{base}/orders/")[0] == 200))
            status, created = _request(f"{base}/orders/", {"customer": "ada", "amount": "12.50"})
            assert status == 201
            assert created["order"]["status"] == "pending"
            status, express = _request(
                f"{base}/orders/", {"customer": "grace", "amount": "99", "express": True}
            )
            assert status == 201
            assert _request(f"{base}/orders/", {"customer": "x"})[0] == 400

            order_url = f"{base}/orders/{created['order']['id']}/"
            processed = _wait_until(lambda: _request(order_url)[1]["order"]["status"] == "processed")
            assert processed

            def dead_letters() -> list:
                out = manage(
                    "shell",
                    "-v0",
                    "-c",
                    "import json; from django_onestep.models import DeadLetter; "
                    "print(json.dumps(list(DeadLetter.objects.values('task', 'exception_type', 'payload'))))",
                ).stdout
                return json.loads(out)

            letters = _wait_until(dead_letters)
            assert letters == [
                {
                    "task": "book_courier",
                    "exception_type": "ConnectionError",
                    "payload": {"order_id": express["order"]["id"]},
                }
            ]
        finally:
            worker.send_signal(signal.SIGTERM)
            web.send_signal(signal.SIGTERM)
            worker_code = worker.wait(60)
            web.wait(60)
    assert worker_code == 0, logs[0].read_text()


def _try(fn) -> bool:
    try:
        return bool(fn())
    except (OSError, ValueError):
        return False


def test_example_projects_own_tests_pass(tmp_path: Path) -> None:
    """docs/testing.md shows example_project/orders/tests.py: it must keep passing."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "TEST_DATABASE_NAME": str(tmp_path / "test.sqlite3"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 passed" in result.stdout
