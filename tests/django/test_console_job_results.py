"""The jobs page shows a job's progress, result and traceback, and aborts running jobs."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from django_onestep.models import Job
from tests.django.test_console_jobs import act, admin_client, job, status_of

pytestmark = pytest.mark.django_db

__all__ = ["admin_client"]  # the fixture, used by name


def test_abort_asks_running_jobs_to_stop_and_leaves_the_others(admin_client: Client) -> None:
    running, queued, done = job("running"), job("queued"), job("done")
    assert "Asked to stop 1 job(s)." in act(admin_client, "abort_selected", [running, queued, done])
    assert Job.objects.get(id=running).abort_requested_at is not None
    assert Job.objects.filter(abort_requested_at__isnull=False).count() == 1
    assert (status_of(running), status_of(queued), status_of(done)) == ("running", "queued", "done")


def test_the_job_page_shows_progress_result_and_traceback(admin_client: Client) -> None:
    job_id = job(
        "aborted",
        progress={"current": 3, "total": 10, "stage": "resizing"},
        result={"thumbnail": "t-42.png"},
        error={
            "type": "JobAborted",
            "message": "stopped",
            "traceback": "Traceback (most recent call last): boom",
        },
    )
    page = admin_client.get(reverse("admin:django_onestep_job_change", args=[job_id])).content.decode()
    for text in ("resizing", "t-42.png", "Traceback (most recent call last): boom", "aborted"):
        assert text in page


def test_delete_finished_includes_expired_and_aborted_jobs(admin_client: Client) -> None:
    finished = [job("expired"), job("aborted")]
    assert "Deleted 2 job(s)." in act(admin_client, "delete_finished_selected", [*finished, job("queued")])
