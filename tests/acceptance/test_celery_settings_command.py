"""``manage.py onestep_celery_settings`` run for real on a project with Celery settings."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.acceptance.conftest import MANAGE_PY, ROOT

# reads settings only: no database, so once is enough
pytestmark = pytest.mark.sqlite_only


def run(*args: str, **env: str) -> Any:
    return subprocess.run(
        [sys.executable, str(MANAGE_PY), "onestep_celery_settings", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.acceptance.celery_settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_prints_a_block_that_pastes_into_settings() -> None:
    result = run()
    assert result.returncode == 0, result.stderr
    namespace: dict[str, Any] = {}
    exec(result.stdout, namespace)
    assert namespace["ONESTEP"] == {
        "DONE_JOB_RETENTION_S": 3600.0,
        "PROCESS_POOL": {"MAX_TASKS_PER_CHILD": 50},
    }
    assert "#   CELERY_BROKER_URL: tasks run on the database queue" in result.stdout
    assert "#   CELERY_WORKER_CONCURRENCY: run `manage.py onestep_worker --concurrency 4`" in result.stdout
    assert "#   CELERY_TASK_ROUTES: pass queue= on each task" in result.stdout


def test_a_value_it_cannot_read_exits_2_with_one_line() -> None:
    result = run(TEST_CELERY_RESULT_EXPIRES="tomorrow")
    assert result.returncode == 2
    assert result.stderr == (
        "onestep_celery_settings: CELERY_RESULT_EXPIRES: must be a number of seconds > 0, "
        "a timedelta or None, got 'tomorrow'\n"
    )
    assert result.stdout == ""


def test_help_says_what_it_reads_and_the_exit_codes() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "ONESTEP = {...} block" in " ".join(result.stdout.split())
    assert "Exit 0, or 2" in " ".join(result.stdout.split())
