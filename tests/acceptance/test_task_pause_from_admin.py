"""A real ``onestep_worker`` stops fetching a task paused in the admin, and resumes."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from django_onestep.models import Job
from testproject.testapp.tasks import record
from tests.waiting import wait_until


def test_pause_and_resume_reach_a_running_worker(manage) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("op", "o@example.com", "pw"))
    worker = manage.start("onestep_worker", "--tasks", "record")
    worker.wait_for_output("onestep worker", 30)
    client.post(reverse("admin:django_onestep_pausedtask_pause", args=["record"]))
    worker.wait_for_output("task record paused in the admin", 15)
    job_id = record.enqueue({"label": "while-paused"})
    time.sleep(2)  # the worker would have run it within its poll interval
    assert Job.objects.get(id=job_id).status == "queued"
    client.post(reverse("admin:django_onestep_pausedtask_resume", args=["record"]))
    worker.wait_for_output("task record resumed in the admin", 15)
    wait_until(lambda: Job.objects.get(id=job_id).status == "done", 15, "the job to run after the resume")
