"""Schedules with real ``onestep_worker`` processes: each tick fires once across workers,
survives the kill of the worker that fired it, and a restart after downtime follows
``misfire``. (The same rules with a fake clock, DST included: tests/django/test_schedules_db.py.)
"""

from __future__ import annotations

import collections
import itertools
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from django_onestep.models import Schedule
from tests.waiting import poll

TARGET = "tests.acceptance.schedule_app:app"


def runs(log: Path) -> list[tuple[datetime, int]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [(datetime.fromisoformat(stamp), int(pid)) for stamp, pid in (line.split() for line in lines)]


def start_workers(manage: Any, log: Path, task: str, count: int, **env: str) -> list[Any]:
    workers = [
        manage.start("onestep_worker", TARGET, "--tasks", task, env={"ONESTEP_TEST_RUN_LOG": str(log), **env})
        for _ in range(count)
    ]
    for worker in workers:
        worker.wait_for_output("onestep worker pid", timeout_s=120)
    return workers


def stop(workers: list[Any]) -> None:
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(60) == 0, worker.output()


def test_three_workers_fire_each_second_once_and_go_on_when_the_last_firer_is_killed(
    manage: Any, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    workers = start_workers(manage, log, "every_second", 3)
    poll(lambda: len(runs(log)) >= 25, "25 ticks with three workers", timeout_s=90)  # about 30 s in all
    (_, last_pid), killed_at = runs(log)[-1], time.monotonic()
    victim = next(worker for worker in workers if worker.pid == last_pid)
    victim.kill()  # SIGKILL
    before = len(runs(log))
    poll(lambda: len(runs(log)) >= before + 5, "5 more ticks after the kill", timeout_s=30)
    assert time.monotonic() - killed_at < 10
    stop([worker for worker in workers if worker is not victim])

    fired = runs(log)
    stamps = [stamp for stamp, _ in fired]
    assert [s for s, n in collections.Counter(stamps).items() if n > 1] == []  # no tick ran twice
    steps = [later - earlier for earlier, later in itertools.pairwise(sorted(stamps))]
    # one grid, every second; at most the one tick the killed worker had claimed is lost
    assert all(step == timedelta(seconds=1) for step in steps if step != timedelta(seconds=2)), steps
    assert steps.count(timedelta(seconds=2)) <= 1, steps
    assert len({pid for _, pid in fired}) >= 2  # more than one worker took part
    assert all(pid != last_pid for _, pid in fired[before:])  # the dead worker fired nothing more


@pytest.mark.parametrize(("misfire", "expected"), [("skip", 0), ("run_once", 1), ("catch_up", 3)])
def test_three_ticks_missed_while_the_workers_were_stopped(
    manage: Any, tmp_path: Path, misfire: str, expected: int
) -> None:
    log = tmp_path / "runs.log"
    env = {"ONESTEP_TEST_MISFIRE": misfire}
    workers = start_workers(manage, log, "every_minute", 2, **env)
    poll(lambda: len(runs(log)) == 1, "the start-up tick")  # immediate=True, once for both workers
    stop(workers)
    ((first, _),) = runs(log)
    # Down for 2.5 minutes: the state a stop over three ticks leaves (next fire 150 s ago).
    row = Schedule.objects.get(key="schedules:every_minute")
    assert (row.last_fire_at, row.next_fire_at) == (first, first + timedelta(minutes=1))
    shift = row.next_fire_at - datetime.now(first.tzinfo) + timedelta(seconds=150)
    Schedule.objects.filter(pk=row.pk).update(
        last_fire_at=row.last_fire_at - shift, next_fire_at=row.next_fire_at - shift
    )
    missed = [row.next_fire_at - shift + timedelta(minutes=n) for n in range(3)]

    workers = start_workers(manage, log, "every_minute", 2, **env)
    poll(lambda: len(runs(log)) >= 1 + expected, f"{expected} missed ticks")
    time.sleep(2.0)  # and nothing more
    stop(workers)
    after = [stamp for stamp, _ in runs(log)[1:]]
    assert sorted(after) == missed[len(missed) - expected :]
    row.refresh_from_db()
    assert row.next_fire_at == missed[-1] + timedelta(minutes=1)


def test_run_now_in_the_admin_reaches_a_running_worker_within_5_s(manage: Any, tmp_path: Path) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    log = tmp_path / "runs.log"
    workers = start_workers(manage, log, "every_minute", 2)
    poll(lambda: len(runs(log)) == 1, "the start-up tick")
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.com", "pw"))
    row = Schedule.objects.get(key="schedules:every_minute")
    asked_at = time.monotonic()
    response = client.post(
        reverse("admin:django_onestep_schedule_changelist"),
        {"action": "run_schedules_now", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    poll(lambda: len(runs(log)) == 2, "the requested run", timeout_s=5)
    assert time.monotonic() - asked_at < 5
    time.sleep(2.5)  # the other worker saw the request too, and did not run it again
    stop(workers)
    assert len(runs(log)) == 2
    row.refresh_from_db()
    assert row.run_requested_at is None
