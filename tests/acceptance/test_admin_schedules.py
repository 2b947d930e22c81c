"""A schedule defined in the admin reaches running workers: it runs within 5 s of being
saved and stops within 5 s of being paused, each tick once across two workers.

The project app's ``record`` task (a ``DatabaseQueue``) writes one ``Run`` row per job.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from django_onestep.models import Job, Schedule
from testproject.testapp.models import Run
from tests.waiting import poll


def ticks() -> int:
    return Run.objects.filter(task="record", label="admin-tick").count()


def test_an_admin_schedule_runs_within_5_s_of_saving_and_stops_within_5_s_of_pausing(manage: Any) -> None:
    workers = [manage.start("onestep_worker", "--tasks", "record") for _ in range(2)]
    for worker in workers:
        worker.wait_for_output("onestep worker pid", timeout_s=120)
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("admin", "admin@example.com", "pw"))
    fields = {"key": "admin-tick", "app": "testproject", "task": "record", "timezone": "UTC"}
    fields |= {"interval_s": "1", "payload": '{"label": "admin-tick"}'}

    saved_at = time.monotonic()
    assert client.post(reverse("admin:django_onestep_schedule_add"), fields).status_code == 302
    poll(lambda: ticks() >= 1, "the first run of the admin schedule", timeout_s=5)
    assert time.monotonic() - saved_at < 5
    poll(lambda: ticks() >= 4, "more ticks", timeout_s=10)

    row = Schedule.objects.get(key="admin-tick")
    paused_at = time.monotonic()
    url = reverse("admin:django_onestep_schedule_change", args=[row.pk])
    assert client.post(url, {**fields, "paused": "on"}).status_code == 302
    time.sleep(max(0.0, 5 - (time.monotonic() - paused_at)))
    after_pause = ticks()
    time.sleep(3)
    assert ticks() == after_pause  # nothing fired more than 5 s after the pause

    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(60) == 0, worker.output()
    stamps = list(Job.objects.filter(queue="testapp.work").values_list("meta__scheduled_at", flat=True))
    assert len(stamps) == len(set(stamps)) == after_pause  # each tick enqueued once across both workers
    row.refresh_from_db()
    assert row.last_outcome == "succeeded"  # the jobs' outcome, recorded by the worker that ran them


def test_skip_local_sources_keeps_admin_schedules_off_a_worker(manage: Any) -> None:
    from django.utils import timezone

    now = timezone.now()
    Schedule.objects.create(
        key="one-off",
        origin="admin",
        app="testproject",
        task="record",
        definition="one-off",
        payload={"label": "one-off"},
        run_requested_at=now,
        updated_at=now,
    )
    skipping = manage.start("onestep_worker", "--tasks", "record", "--skip-local-sources")
    skipping.wait_for_output("onestep worker pid", timeout_s=120)
    time.sleep(4)  # two rounds of reloading the rows
    assert not Run.objects.filter(label="one-off").exists()
    serving = manage.start("onestep_worker", "--tasks", "record")
    poll(
        lambda: Run.objects.filter(label="one-off").exists(), "the one-off on the other worker", timeout_s=30
    )
    for worker in (skipping, serving):
        worker.signal(signal.SIGTERM)
    for worker in (skipping, serving):
        assert worker.wait(60) == 0, worker.output()
    assert Run.objects.filter(label="one-off").count() == 1
