"""The read-only admin pages of the django_onestep tables render (both DBs)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_onestep.core.envelope import Envelope
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter, Job, TaskMetric, WorkerHeartbeat
from django_onestep.orm.dead_letters import DatabaseDeadLetters
from django_onestep.orm.stores import DatabaseCursorStore, DatabaseStateStore

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_every_changelist_renders(admin_client: Client) -> None:
    queue = DatabaseQueue("admin-q")
    queue.send({"order": 1})
    DatabaseStateStore().save_sync("app:task:k", {"n": 1})
    DatabaseCursorStore().save_sync("orders", 5)
    now = timezone.now()
    TaskMetric.objects.create(app="a", task="t", window_start=now, succeeded=3, histogram=[0, 3] + [0] * 10)
    WorkerHeartbeat.objects.create(worker_id="h:1:x", host="h", pid=1, started_at=now, last_seen=now)
    for model in ("job", "deadletter", "stateentry", "cursor", "taskmetric", "workerheartbeat"):
        response = admin_client.get(reverse(f"admin:django_onestep_{model}_changelist"))
        assert response.status_code == 200, model
    body = admin_client.get(reverse("admin:django_onestep_taskmetric_changelist")).content.decode()
    assert "0.005" in body  # p50 from the histogram


def test_job_status_filter_and_read_only_detail(admin_client: Client) -> None:
    queue = DatabaseQueue("admin-q")
    queued = queue.send({"order": "queued-one"})
    Job.objects.filter(id=queue.send({"order": "done-one"})).update(status="done")
    url = reverse("admin:django_onestep_job_changelist")
    body = admin_client.get(url, {"status__exact": "queued"}).content.decode()
    assert f">{queued}<" in body and body.count("admin-q") >= 1
    assert "done-one" not in body
    detail = admin_client.get(reverse("admin:django_onestep_job_change", args=[queued])).content.decode()
    assert "queued-one" in detail
    assert 'name="_save"' not in detail  # read-only
    assert admin_client.get(reverse("admin:django_onestep_job_add")).status_code == 403


def test_dead_letter_detail_shows_pretty_payload_and_traceback(admin_client: Client) -> None:
    row_id = DatabaseDeadLetters(task="t1").store_sync(
        Envelope(
            body={
                "payload": {"order": 7, "note": "<script>"},
                "failure": {"kind": "error", "exception_type": "ValueError", "message": "bad",
                            "traceback": "Traceback (most recent call last):\n  boom"},
            },
            meta={"task": "t1", "original_meta": {"trace": "abc"}, "original_attempts": 2},
        )
    )  # fmt: skip
    body = admin_client.get(reverse("admin:django_onestep_deadletter_change", args=[row_id])).content.decode()
    assert (
        '<pre class="onestep-json">{\n  &quot;note&quot;: &quot;&lt;script&gt;&quot;,\n  &quot;order&quot;: 7\n}</pre>'
        in body
    )
    assert "Traceback (most recent call last):\n  boom" in body
    assert "&quot;trace&quot;: &quot;abc&quot;" in body
    assert DeadLetter.objects.count() == 1
