"""``ModelQueue`` under ``onestep_worker``: one process on SQLite, three sharing MariaDB."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from testproject.testapp.models import Run

TARGET = "tests.acceptance.model_queue_app:app"


def test_workers_take_every_row_once(manage, tmp_path: Path) -> None:
    from django.db import connection

    Run.objects.bulk_create([Run(label=str(i), task="new") for i in range(300)])
    log = tmp_path / "runs.log"
    processes = "1" if connection.vendor == "sqlite" else "3"
    result = manage.run(
        "onestep_worker", TARGET, "--once", "--processes", processes, env={"ONESTEP_TEST_RUN_LOG": str(log)}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    handled = Counter(log.read_text().split())
    assert len(handled) == 300 and max(handled.values()) == 1
    noisy = [line for line in result.stderr.splitlines() if "succeeded" not in line]
    assert set(Run.objects.values_list("task", flat=True)) == {"done"}, "\n".join(noisy)[-3000:]
