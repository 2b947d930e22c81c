"""A real ``onestep_worker`` obeys the admin's stop and drain within a heartbeat or two."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from django_onestep.models import WorkerHeartbeat
from testproject.testapp.models import Run
from testproject.testapp.tasks import slow
from tests.waiting import wait_until

HEARTBEAT_S = 5.0  # ONESTEP["WORKER_HEARTBEAT_S"] of the test project (the default)


def ask(action: str) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser(f"op-{action}", "o@example.com", "pw"))
    row = WorkerHeartbeat.objects.get(status="running")
    client.post(
        reverse("admin:django_onestep_workerheartbeat_changelist"),
        {"action": f"{action}_selected", "_selected_action": [str(row.pk)]},
    )


def test_stop_from_the_admin_ends_the_worker(manage) -> None:
    worker = manage.start("onestep_worker", "--tasks", "record")
    wait_until(lambda: WorkerHeartbeat.objects.filter(status="running").exists(), 30, "the first heartbeat")
    asked_at = time.monotonic()
    ask("stop")
    worker.wait_for_output("stop requested in the admin", 2 * HEARTBEAT_S + 5)
    assert worker.wait(30) == 0, worker.output()
    assert time.monotonic() - asked_at < 2 * HEARTBEAT_S + 5
    assert WorkerHeartbeat.objects.get().status == "stopped"


def test_drain_from_the_admin_finishes_the_job_in_hand_then_exits(manage) -> None:
    slow.enqueue({"label": "in-hand", "sleep_s": 2 * HEARTBEAT_S})  # still running at the next beat
    worker = manage.start("onestep_worker", "--tasks", "slow")
    worker.wait_for_output("slow started in-hand", 30)
    ask("drain")
    worker.wait_for_output("drain requested in the admin", 2 * HEARTBEAT_S + 5)
    slow.enqueue({"label": "after-drain", "sleep_s": 0})
    assert worker.wait(60) == 0, worker.output()
    assert Run.objects.filter(label="in-hand", task="slow").exists()  # not cut short
    assert not Run.objects.filter(label="after-drain").exists()  # no new work taken
