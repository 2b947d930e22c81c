"""Run the standalone worker apps of this folder in subprocesses and read what they did.

The apps append one line per handled message to a record file (``record``: a single
``write`` on an O_APPEND file, so a SIGKILL never leaves a torn line); the tests start
them through the real CLI (``python -m django_onestep run``), kill or stop them, and read
the records back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def record(path: str, line: str) -> None:
    """Append ``line`` to ``path`` in one write (called by the apps before a handler returns)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def start_worker(target: str, env_extra: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m django_onestep run <target>`` with its output appended to ``log_path``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "django_onestep", "run", target],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def sigkill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def freeze(proc: subprocess.Popen[bytes]) -> None:
    """SIGSTOP, returning once every thread of it has stopped: until ``thaw`` (or a
    SIGKILL) it sends nothing more, so what it has written and committed so far is all
    it will have done (a statement already on its way to a server may still land)."""
    proc.send_signal(signal.SIGSTOP)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)  # reports the stop once every thread took it
    if not os.WIFSTOPPED(status):  # it ended instead: we reaped it, so keep its code for Popen
        proc.returncode = os.waitstatus_to_exitcode(status)
        raise AssertionError(f"the worker ended (code {proc.returncode}) instead of stopping")


def thaw(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGCONT)


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    """SIGTERM (a graceful drain), SIGKILL if it does not exit in time; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode if proc.returncode is not None else -9


def records(path: Path) -> list[tuple[int, int]]:
    """``(id, attempts)`` per line ``"<id> <attempts>"``, in the order handlers wrote them."""
    if not path.exists():
        return []
    return [(int(a), int(b)) for a, b in (line.split() for line in path.read_text().splitlines())]
