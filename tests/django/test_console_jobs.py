"""The jobs page acts: requeue, cancel, run now, delete finished; and the queue overview."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_onestep.console import job_actions, paging
from django_onestep.console.paging import CappedPaginator
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import DeadLetter, Job
from tests.django.console_helpers import dead_letter

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_onestep_job_changelist"


def job(status: str = "queued", queue: str = "testapp.work", **fields: Any) -> int:
    job_id = int(DatabaseQueue(queue).send({"label": status}))
    Job.objects.filter(id=job_id).update(status=status, **fields)
    return job_id


def client_with(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(f"u-{'-'.join(codenames)}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def act(client: Client, action: str, ids: list[int], query: str = "", **extra: str) -> str:
    data = {"action": action, "_selected_action": [str(i) for i in ids], **extra}
    return client.post(reverse(CHANGELIST) + query, data, follow=True).content.decode()


def status_of(job_id: int) -> str:
    return Job.objects.get(id=job_id).status


def test_list_shows_task_runs_duration_and_last_error(admin_client: Client) -> None:
    now = timezone.now()
    job("failed", attempts=2, claimed_at=now - timedelta(seconds=1.5), finished_at=now,
        last_error="Traceback...\nRuntimeError: card declined")  # fmt: skip
    job("queued", queue="no-task-reads-this")
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert '<td class="field-task">record</td>' in body
    assert '<td class="field-task">-</td>' in body
    assert '<td class="field-duration">1.500</td>' in body
    assert '<td class="field-short_error">RuntimeError: card declined</td>' in body
    assert '<td class="field-runs">2</td>' in body


def test_requeue_runs_failed_and_dead_again_from_a_fresh_budget(admin_client: Client) -> None:
    failed, done, queued = job("failed", attempts=3), job("done", attempts=1), job("queued")
    letter = dead_letter(queue="testapp.work")
    dead = DeadLetter.objects.get(id=letter).job_id
    assert dead is not None
    body = act(admin_client, "requeue_selected", [failed, done, queued, dead])
    assert "Requeued 2 job(s)." in body
    for job_id in (failed, dead):
        row = Job.objects.get(id=job_id)
        assert (row.status, row.attempts, row.finished_at) == ("queued", 0, None)
    assert (status_of(done), status_of(queued)) == ("done", "queued")
    letter_row = DeadLetter.objects.get(id=letter)  # the job runs again: its dead letter is settled
    assert (letter_row.status, letter_row.resolution, letter_row.replay_job_id) == (
        "resolved",
        "replayed",
        dead,
    )
    assert LogEntry.objects.get().change_message == "Requeued 2 job(s)"


def test_cancel_only_touches_queued_jobs(admin_client: Client) -> None:
    queued, running = job("queued", dedupe_key="k1"), job("running")
    assert "Cancelled 1 job(s)." in act(admin_client, "cancel_selected", [queued, running])
    row = Job.objects.get(id=queued)
    assert (row.status, row.dedupe_key, row.last_error) == ("cancelled", None, "cancelled by boss")
    assert status_of(running) == "running"


def test_run_now_makes_delayed_jobs_due(admin_client: Client) -> None:
    later = timezone.now() + timedelta(hours=1)
    delayed, due = job("queued", available_at=later), job("queued")
    assert "Made due now 1 job(s)." in act(admin_client, "run_now_selected", [delayed, due])
    assert Job.objects.get(id=delayed).available_at <= timezone.now()


def test_delete_finished_keeps_open_jobs(admin_client: Client) -> None:
    finished = [job(status) for status in ("done", "failed", "dead", "cancelled")]
    open_ = [job("queued"), job("running")]
    assert "Deleted 4 job(s)." in act(admin_client, "delete_finished_selected", finished + open_)
    assert sorted(Job.objects.values_list("id", flat=True)) == sorted(open_)


def test_select_across_acts_on_the_filtered_selection_in_batches(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_actions, "BATCH_SIZE", 2)
    failed = [job("failed", queue="batch-q") for _ in range(5)]
    elsewhere = job("failed", queue="other-q")
    body = act(admin_client, "requeue_selected", failed[:1], "?queue=batch-q", select_across="1")
    assert "Requeued 5 job(s)." in body
    assert status_of(elsewhere) == "failed"


def test_actions_need_their_permissions() -> None:
    queued, done = job("queued"), job("done")
    viewer = client_with("view_job")
    body = viewer.get(reverse(CHANGELIST)).content.decode()
    assert "cancel_selected" not in body and "delete_selected" not in body
    act(viewer, "cancel_selected", [queued])
    act(viewer, "delete_selected", [done])  # Django's own bulk delete is not offered either
    assert (status_of(queued), status_of(done)) == ("queued", "done")
    operator = client_with("view_job", "change_job")
    body = operator.get(reverse(CHANGELIST)).content.decode()
    assert "cancel_selected" in body and "delete_finished_selected" not in body
    act(operator, "delete_finished_selected", [done])
    assert Job.objects.filter(id=done).exists()
    act(operator, "cancel_selected", [queued])
    assert status_of(queued) == "cancelled"


def test_queue_overview_counts_lag_and_throughput(admin_client: Client) -> None:
    now = timezone.now()
    job("queued", available_at=now - timedelta(seconds=90))
    job("queued")
    job("dead")
    job("done", finished_at=now - timedelta(seconds=30))
    job("done", finished_at=now - timedelta(hours=2))  # outside the window
    body = admin_client.get(reverse("admin:django_onestep_job_overview")).content.decode()
    row = body[body.index(">testapp.work</a>") : body.index("</tr>", body.index(">testapp.work</a>"))]
    cells = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    assert cells[:6] == ["record", "2", "0", "0", "1", "0:01:30"] and cells[6:] == ["1", "0.2"]
    assert "Queue overview" in admin_client.get(reverse(CHANGELIST)).content.decode()
    assert client_with().get(reverse("admin:django_onestep_job_overview")).status_code == 403


def test_the_paginator_counts_at_most_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    for _ in range(6):
        job()
    assert CappedPaginator(Job.objects.order_by("-id"), 2).count == 4
    assert CappedPaginator(Job.objects.filter(status="done"), 2).count == 0


def test_the_jobs_page_counts_through_the_capped_paginator(admin_client: Client) -> None:
    job()
    assert isinstance(admin_client.get(reverse(CHANGELIST)).context["cl"].paginator, CappedPaginator)


def test_list_and_overview_queries_do_not_grow_with_rows(admin_client: Client) -> None:
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    urls = (reverse(CHANGELIST), reverse("admin:django_onestep_job_overview"))
    job()
    few = [queries(url) for url in urls]
    for n in range(30):
        job("failed", queue=f"q{n % 5}", last_error="boom")
    assert [queries(url) for url in urls] == few and max(few) <= 15


def test_search_is_one_indexed_lookup_id_or_queue(admin_client: Client) -> None:
    job(queue="777777")
    billing = job(queue="billing")
    url = reverse(CHANGELIST)

    def found(term: str) -> list[int]:
        return [row.id for row in admin_client.get(url, {"q": term}).context["cl"].result_list]

    assert found(str(billing)) == [billing]
    assert found("billing") == [billing]
    assert found("777777") == []  # a number is a job id, never a queue name
