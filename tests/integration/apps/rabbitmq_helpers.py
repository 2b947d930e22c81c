"""Start/stop the standalone RabbitMQ worker app in a subprocess and read what it did."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TARGET = "tests.integration.apps.rabbitmq_worker_app:app"


def worker_command(target: str) -> list[str]:
    """The real CLI when it exists, else a stand-in that calls ``app.run()``."""
    if importlib.util.find_spec("django_onestep.__main__") is not None:
        return [sys.executable, "-m", "django_onestep", "run", target]
    module, attr = target.split(":")
    code = f"import importlib; importlib.import_module({module!r}).{attr}.run()"
    return [sys.executable, "-c", code]


def start_worker(env_extra: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(
            worker_command(TARGET), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    finally:
        log.close()


def sigkill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode if proc.returncode is not None else -9


def records(path: Path) -> list[tuple[int, int]]:
    """(id, attempts) per handled message, in the order handlers finished."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:  # a torn last line from a SIGKILL cannot happen (one write), but be safe
            rows.append((int(parts[0]), int(parts[1])))
    return rows


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)
