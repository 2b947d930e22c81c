"""Run the real ``manage.py`` commands in subprocesses against the pytest-django test DB.

Fixtures:

- ``manage`` (needs the ``transactional_db`` it requests: data written by the test is
  committed, so the subprocess sees it, and the subprocess's writes are flushed after):
  ``manage.run("onestep_check", "--json")`` returns a ``CompletedProcess`` (text output),
  ``manage.start("onestep_worker", "mod:app", "--once")`` returns a ``ManagedProcess``.
- ``ManagedProcess``: ``wait_for_output(text, timeout_s)``, ``signal(sig)``, ``kill()``,
  ``wait(timeout_s) -> returncode``, ``output()`` (stdout + stderr so far). Every process
  started is killed at teardown if still running.

The subprocess gets ``DATABASE_URL`` pointing at the test database (the SQLite file or
the MariaDB ``test_...`` database), so it reads and writes exactly what the test sees.
Extra environment variables: ``manage.start(..., env={"X": "1"})``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANAGE_PY = ROOT / "manage.py"


def subprocess_database_url() -> str:
    """A DATABASE_URL for the database pytest-django created for this session."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    base = os.environ.get("DATABASE_URL") or os.environ["ONESTEP_TEST_MYSQL_URL"]
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + settings["NAME"], parts.query, parts.fragment))


class ManagedProcess:
    """A ``manage.py`` subprocess whose output goes to a file the test can poll."""

    def __init__(self, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, str(MANAGE_PY), *args],
            cwd=ROOT,
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            out = self.output()
            if text in out:
                return out
            if self.popen.poll() is not None:
                out = self.output()
                if text in out:
                    return out
                raise AssertionError(
                    f"process exited ({self.popen.returncode}) before printing {text!r}:\n{out}"
                )
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not printed within {timeout_s}s:\n{self.output()}")

    def signal(self, sig: int) -> None:
        self.popen.send_signal(sig)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()

    def wait(self, timeout_s: float = 120.0) -> int:
        try:
            return self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()
            raise AssertionError(f"process did not exit within {timeout_s}s:\n{self.output()}") from None

    def close(self) -> None:
        self.kill()
        self._log.close()


class ManagePy:
    def __init__(self, env: Mapping[str, str], tmp_path: Path) -> None:
        self.env = dict(env)
        self.tmp_path = tmp_path
        self.processes: list[ManagedProcess] = []

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**self.env, **(extra or {})}

    def run(self, *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 120.0) -> Any:
        return subprocess.run(
            [sys.executable, str(MANAGE_PY), *args],
            cwd=ROOT,
            env=self._env(env),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> ManagedProcess:
        log_path = self.tmp_path / f"proc-{len(self.processes)}.log"
        process = ManagedProcess(list(args), self._env(env), log_path)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            process.close()


@pytest.fixture
def manage(transactional_db: None, tmp_path: Path) -> Iterator[ManagePy]:
    env = {
        **os.environ,
        "DATABASE_URL": subprocess_database_url(),
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    runner = ManagePy(env, tmp_path)
    try:
        yield runner
    finally:
        runner.close()
