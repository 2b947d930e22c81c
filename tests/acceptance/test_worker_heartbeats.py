"""``WorkerHeartbeat`` rows left by real ``manage.py onestep_worker`` runs."""

from __future__ import annotations

import signal
from datetime import timedelta

from django.utils import timezone

from django_onestep.models import WorkerHeartbeat
from testproject.testapp.tasks import record
from tests.waiting import wait_until


def test_once_runs_leave_no_heartbeat_rows(manage) -> None:
    for run in range(3):
        record.enqueue({"label": f"r{run}"})
        result = manage.run("onestep_worker", "--once", "--tasks", "record")
        assert result.returncode == 0, result.stderr
    assert WorkerHeartbeat.objects.count() == 0


def test_a_long_running_worker_marks_its_row_stopped(manage) -> None:
    worker = manage.start("onestep_worker", "--tasks", "record")
    wait_until(lambda: WorkerHeartbeat.objects.filter(status="running").exists())
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0, worker.output()
    heartbeat = WorkerHeartbeat.objects.get()
    assert (heartbeat.app, heartbeat.tasks, heartbeat.status) == ("testproject", ["record"], "stopped")
    assert heartbeat.pid == worker.pid


def test_a_starting_worker_prunes_rows_of_workers_gone_for_a_day(manage) -> None:
    long_ago = timezone.now() - timedelta(days=2)
    recently = timezone.now() - timedelta(hours=1)
    for worker_id, status, seen in [
        ("stopped-2d", "stopped", long_ago),
        ("crashed-2d", "running", long_ago),
        ("stopped-1h", "stopped", recently),
    ]:
        WorkerHeartbeat.objects.create(
            worker_id=worker_id, app="testproject", host="h", pid=1, status=status,
            started_at=seen, last_seen=seen,
        )  # fmt: skip
    result = manage.run("onestep_worker", "--once", "--tasks", "record")
    assert result.returncode == 0, result.stderr
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["stopped-1h"]
