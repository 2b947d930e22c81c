"""Results, abort and the Django Tasks backend with real ``manage.py onestep_worker`` processes."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from django.test import override_settings

from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.results import JobHandle, get_job
from tests.acceptance import results_app
from tests.waiting import poll

TARGET = "tests.acceptance.results_app:app"


def stop(worker: Any) -> None:
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()


def test_a_return_value_is_read_back_from_another_process(manage: Any) -> None:
    worker = manage.start("onestep_worker", TARGET, "--tasks", "compute")
    worker.wait_for_output("onestep worker pid", timeout_s=120)
    handle = DatabaseQueue("results-compute").send({"numbers": [1, 2, 3]})
    assert handle.wait(timeout=5) == {"total": 6, "by": "worker"}
    assert get_job(str(handle)).status == "succeeded"
    stop(worker)


def _started(handle: JobHandle) -> bool:
    return handle.refresh().progress == {"current": 0, "total": 100, "stage": "started"}


def test_aborted_sync_and_async_jobs_stop_within_one_lease_renewal(manage: Any) -> None:
    worker = manage.start("onestep_worker", TARGET, "--tasks", "long_sync,long_async")
    handles = [DatabaseQueue("results-long-sync").send({}), DatabaseQueue("results-long-async").send({})]
    for handle in handles:
        poll(lambda h=handle: _started(h), f"job {handle} running", timeout_s=30)  # type: ignore[misc]
    asked_at = time.monotonic()
    assert [handle.cancel() for handle in handles] == ["aborting", "aborting"]
    for handle in handles:
        poll(lambda h=handle: h.refresh().finished, f"job {handle} stopped", timeout_s=30)  # type: ignore[misc]
    elapsed_s = time.monotonic() - asked_at
    # one renewal is lease_s / 3 = 0.5 s; the margin is for a slow, shared machine
    assert elapsed_s < results_app.LEASE_S / 3 + 2.0, f"stopped after {elapsed_s:.2f}s"
    assert [(h.status, h.error and h.error.type) for h in handles] == [
        ("aborted", "JobAborted"),
        ("aborted", "JobAborted"),
    ]
    stop(worker)


def test_a_sigkilled_workers_framework_task_runs_again_and_finishes(manage: Any, tmp_path: Path) -> None:
    from tests import framework_tasks as ft
    from tests.acceptance.tasks_settings import TASKS

    env = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.tasks_settings"}
    marker = tmp_path / "killed-once"
    with override_settings(TASKS=TASKS):
        from django_onestep.tasks_backend.compat import task_backends

        backend = task_backends["default"]
        result = ft.kill_worker_once.enqueue(str(marker))
        first = manage.start("onestep_worker", TARGET, "--tasks", "django.tasks:default:default", env=env)
        assert first.wait(60) == -signal.SIGKILL, first.output()
        assert marker.exists()
        assert backend.get_result(result.id).status == "RUNNING"  # where django-tasks-db would stay
        second = manage.start("onestep_worker", TARGET, "--tasks", "django.tasks:default:default", env=env)
        # the 1 s lease runs out, the sweep puts the job back, and it runs to the end
        poll(lambda: backend.get_result(result.id).is_finished, "the task finished", timeout_s=60)
        finished = backend.get_result(result.id)
        assert (finished.status, finished.return_value, finished.attempts) == ("SUCCESSFUL", "survived", 2)
        stop(second)
