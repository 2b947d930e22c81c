"""The submissions pages: progress, rate, ETA, strategy; chunks; cancel, retry, purge."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_onestep import Submission, SubmissionSource, prefer_distinct, submit
from django_onestep.console import submission_admin
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.models import SubmissionChunk, SubmissionRecord
from django_onestep.submissions import chunk_rows
from django_onestep.submissions.reserve import reserve_chunk

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_onestep_submissionrecord_changelist"


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def act(client: Client, action: str, ids: list[int]) -> str:
    data = {"action": action, "_selected_action": [str(i) for i in ids]}
    return client.post(reverse(CHANGELIST), data, follow=True).content.decode()


def run_one_chunk(queue: str) -> None:
    chunk: Any = reserve_chunk("default", queue, "oldest", token="t" * 32, lease_s=30, now=timezone.now())
    chunk_rows.complete_chunk(
        "default",
        chunk_id=chunk.id,
        submission_id=chunk.submission_id,
        token="t" * 32,
        ops=chunk.ops,
        results=chunk.payload,
        now=timezone.now(),
    )


def fail_one_chunk(queue: str) -> None:
    chunk: Any = reserve_chunk("default", queue, "oldest", token="f" * 32, lease_s=30, now=timezone.now())
    chunk_rows.fail_chunk(
        "default", chunk_id=chunk.id, token="f" * 32, error="KeyError: 'sku'", now=timezone.now()
    )


def test_list_shows_progress_rate_eta_and_the_sources_strategy(
    admin_client: Client, monkeypatch: Any
) -> None:
    project = OneStepApp("project")

    @project.task(source=SubmissionSource("testapp.reindex", strategy=prefer_distinct("tenant")))
    def reindex(ctx: Any, op: int) -> None:
        return None

    monkeypatch.setattr(submission_admin, "get_project_app", lambda: project)
    submission = submit("testapp.reindex", range(40), chunk_size=10)
    run_one_chunk("testapp.reindex")
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert '<progress value="1" max="4"></progress> 25% (1/4 chunks)' in page
    assert "10 / 40" in page
    assert "ops/s" in page
    assert '<td class="field-eta">0:00:' in page  # seconds left at this pace
    assert "prefer_distinct(&#x27;tenant&#x27;)" in page
    detail = admin_client.get(reverse("admin:django_onestep_submissionrecord_change", args=[submission.id]))
    assert f"?submission__id__exact={submission.id}" in detail.content.decode()


def test_chunk_list_shows_attempts_and_errors(admin_client: Client) -> None:
    submission = submit("console-subs", range(4), chunk_size=2)
    fail_one_chunk("console-subs")
    url = (
        reverse("admin:django_onestep_submissionchunk_changelist") + f"?submission__id__exact={submission.id}"
    )
    page = admin_client.get(url).content.decode()
    assert "KeyError: &#x27;sku&#x27;" in page
    assert '<td class="field-attempts">1</td>' in page


def test_cancel_then_retry_failed_chunks_then_purge(admin_client: Client) -> None:
    submission = submit("console-subs", range(6), chunk_size=2)
    run_one_chunk("console-subs")
    assert "Cancelled 1 submission(s)." in act(admin_client, "cancel_selected", [submission.id])
    assert submission.status == "cancelled"
    assert "Retried the failed chunks of 1 submission(s)." in act(
        admin_client, "retry_failed_selected", [submission.id]
    )
    assert submission.status == "running"
    statuses = list(
        SubmissionChunk.objects.filter(submission_id=submission.id).values_list("status", "attempts")
    )
    assert statuses == [("done", 1), ("pending", 0), ("pending", 0)]
    assert "Purged 0 submission(s)." in act(admin_client, "purge_selected", [submission.id])  # still running
    Submission(submission.id).cancel()
    assert "Purged 1 submission(s)." in act(admin_client, "purge_selected", [submission.id])
    assert not SubmissionRecord.objects.filter(id=submission.id).exists()


def test_actions_need_permissions() -> None:
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.set(Permission.objects.filter(codename="view_submissionrecord"))
    client = Client()
    client.force_login(user)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "cancel_selected" not in page and "purge_selected" not in page
