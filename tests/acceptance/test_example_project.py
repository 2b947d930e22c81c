"""``make demo`` by hand: migrate, demo_setup, worker + runserver, curl the order view."""

from __future__ import annotations

import contextlib
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
    """scripts/demo.sh itself (what `make demo` runs), stopped as Ctrl-C stops it."""
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
        "DEMO_ADDR": f"127.0.0.1:{port}",
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

    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        # its own process group, like a terminal's foreground job: Ctrl-C signals all of it
        demo = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "demo.sh")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until(lambda: _try(lambda: _request(f"{base}/orders/")[0] == 200), timeout_s=120)
            output = log_path.read_text()
            assert "created superuser admin / admin" in output
            # the printed commands use the address the server really listens on
            assert f"curl -s -X POST {base}/orders/" in output
            assert "8000" not in output
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
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C
            try:
                demo_code = demo.wait(60)
                left_behind = _group_alive(demo.pid)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(demo.pid, signal.SIGKILL)  # clean up whatever survived
    output = log_path.read_text()
    assert demo_code == 0, output[-3000:]
    assert not left_behind, "the worker or runserver outlived Ctrl-C"
    assert "SIGINT: finishing in-flight work" in output
    assert "onestep worker pid" in output and "stopped" in output
    assert "superuser 'admin' already exists" in manage("demo_setup").stdout
    assert manage("check", "--fail-level", "WARNING").returncode == 0


def _group_alive(pgid: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.2)
    return True


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
    assert "5 passed" in result.stdout
