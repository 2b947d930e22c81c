"""The dead-letter page acts: replay, discard, edit and replay, with permissions and history."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_onestep.console import dead_letter_actions
from django_onestep.models import DeadLetter, Job
from tests.django.console_helpers import dead_letter

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_onestep_deadletter_changelist"


def user_with(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(f"op-{'-'.join(codenames)}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def run_action(client: Client, action: str, ids: list[int], query: str = "", **extra: str) -> Any:
    data = {"action": action, "_selected_action": [str(i) for i in ids], **extra}
    return client.post(reverse(CHANGELIST) + query, data, follow=True)


def test_list_shows_runs_counting_the_last_one_like_the_job() -> None:
    row_id = dead_letter(runs=3)
    client = user_with("view_deadletter")
    body = client.get(reverse(CHANGELIST)).content.decode()
    assert '<td class="field-runs">3</td>' in body
    job = Job.objects.get(id=DeadLetter.objects.get(id=row_id).job_id)
    assert job.attempts == 3


def test_bulk_replay_enqueues_fresh_jobs_and_records_who_when_how(admin_client: Client) -> None:
    ids = [dead_letter({"order": n}) for n in range(3)]
    response = run_action(admin_client, "replay_selected", ids)
    assert "3 dead letter(s) replayed." in response.content.decode()
    for row in DeadLetter.objects.filter(id__in=ids):
        assert (row.status, row.resolution, row.resolved_by) == ("resolved", "replayed", "boss")
        assert row.resolved_at is not None
        job = Job.objects.get(id=row.replay_job_id)
        assert (job.queue, job.status, job.attempts) == ("console-q", "queued", 0)  # fresh budget
        assert job.payload == row.payload and job.meta == {"trace": "t-1"}
    entries = LogEntry.objects.filter(object_id__in=[str(i) for i in ids])
    assert sorted(int(e.object_id) for e in entries) == sorted(ids)
    assert {e.get_change_message() for e in entries} == {"Replayed with a fresh attempt budget"}


def test_replay_twice_enqueues_once(admin_client: Client) -> None:
    row_id = dead_letter()
    run_action(admin_client, "replay_selected", [row_id])
    response = run_action(admin_client, "replay_selected", [row_id])
    assert "0 dead letter(s) replayed. 1 left as they were" in response.content.decode()
    assert Job.objects.filter(status="queued").count() == 1


def test_a_dead_letter_of_a_broker_source_is_left_pending(admin_client: Client) -> None:
    row_id = dead_letter(from_job=False)
    response = run_action(admin_client, "replay_selected", [row_id])
    assert "app.replay_task_dead_letters" in response.content.decode()
    assert DeadLetter.objects.get(id=row_id).status == "pending"


def test_discard_resolves_without_a_job(admin_client: Client) -> None:
    row_id = dead_letter()
    before = Job.objects.count()
    run_action(admin_client, "discard_selected", [row_id])
    row = DeadLetter.objects.get(id=row_id)
    assert (row.status, row.resolution, row.replay_job_id) == ("resolved", "discarded", None)
    assert Job.objects.count() == before
    detail = admin_client.get(reverse("admin:django_onestep_deadletter_change", args=[row_id])).content
    assert b"Discarded" in detail and b"boss" in detail
    assert b"onestep-replay" not in detail  # resolved: no more buttons


def test_select_across_replays_the_whole_filtered_selection_in_batches(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dead_letter_actions, "BATCH_SIZE", 2)
    ids = [dead_letter({"order": n}) for n in range(5)]
    other = dead_letter(task="refund")
    response = run_action(admin_client, "replay_selected", ids[:1], "?task__exact=charge", select_across="1")
    assert "5 dead letter(s) replayed." in response.content.decode()
    assert DeadLetter.objects.get(id=other).status == "pending"


def test_detail_buttons_replay_and_discard_one_row(admin_client: Client) -> None:
    replayed, discarded = dead_letter(), dead_letter()
    detail = admin_client.get(reverse("admin:django_onestep_deadletter_change", args=[replayed])).content
    assert b"onestep-replay" in detail and b"onestep-discard" in detail
    admin_client.post(reverse("admin:django_onestep_deadletter_replay", args=[replayed]))
    admin_client.post(reverse("admin:django_onestep_deadletter_discard", args=[discarded]))
    assert DeadLetter.objects.get(id=replayed).resolution == "replayed"
    assert DeadLetter.objects.get(id=discarded).resolution == "discarded"


def test_edit_and_replay_validates_confirms_then_replays(admin_client: Client) -> None:
    row_id = dead_letter({"order": 1})
    url = reverse("admin:django_onestep_deadletter_edit_replay", args=[row_id])
    assert "&quot;order&quot;: 1" in admin_client.get(url).content.decode()
    bad = admin_client.post(url, {"payload": '{"order": 2'}).content.decode()
    assert "payload: not valid JSON" in bad
    review = admin_client.post(url, {"payload": '{"order": 2}'}).content.decode()
    assert "Yes, replay it" in review
    assert DeadLetter.objects.get(id=row_id).status == "pending"  # nothing done before confirming
    admin_client.post(url, {"payload": '{"order": 2}', "confirm": "yes"})
    row = DeadLetter.objects.get(id=row_id)
    assert Job.objects.get(id=row.replay_job_id).payload == {"order": 2}
    assert LogEntry.objects.get(object_id=str(row_id)).get_change_message() == "Payload edited, then replayed"


def test_edit_and_replay_action_needs_exactly_one_row(admin_client: Client) -> None:
    ids = [dead_letter(), dead_letter()]
    response = run_action(admin_client, "edit_and_replay", ids)
    assert "select exactly one" in response.content.decode()
    one = admin_client.post(
        reverse(CHANGELIST), {"action": "edit_and_replay", "_selected_action": [str(ids[0])]}
    )
    assert one["Location"] == reverse("admin:django_onestep_deadletter_edit_replay", args=[ids[0]])


def test_viewer_sees_no_actions_and_forged_requests_are_refused() -> None:
    row_id = dead_letter()
    client = user_with("view_deadletter")
    body = client.get(reverse(CHANGELIST)).content.decode()
    assert "replay_selected" not in body and "discard_selected" not in body
    detail = client.get(reverse("admin:django_onestep_deadletter_change", args=[row_id])).content
    assert b"onestep-replay" not in detail and b"onestep-discard" not in detail
    run_action(client, "replay_selected", [row_id])
    run_action(client, "discard_selected", [row_id])
    assert client.post(reverse("admin:django_onestep_deadletter_replay", args=[row_id])).status_code == 403
    assert client.post(reverse("admin:django_onestep_deadletter_discard", args=[row_id])).status_code == 403
    edit = reverse("admin:django_onestep_deadletter_edit_replay", args=[row_id])
    assert client.post(edit, {"payload": "{}", "confirm": "yes"}).status_code == 403
    assert DeadLetter.objects.get(id=row_id).status == "pending"
    assert not LogEntry.objects.exists()


def test_change_permission_discards_but_does_not_replay() -> None:
    row_id = dead_letter()
    client = user_with("view_deadletter", "change_deadletter")
    body = client.get(reverse(CHANGELIST)).content.decode()
    assert "discard_selected" in body and "replay_selected" not in body
    run_action(client, "replay_selected", [row_id])
    assert DeadLetter.objects.get(id=row_id).status == "pending"
    run_action(client, "discard_selected", [row_id])
    assert DeadLetter.objects.get(id=row_id).resolution == "discarded"


def test_replay_permission_alone_replays() -> None:
    row_id = dead_letter()
    client = user_with("view_deadletter", "replay_deadletter")
    body = client.get(reverse(CHANGELIST)).content.decode()
    assert "replay_selected" in body and "discard_selected" not in body
    run_action(client, "replay_selected", [row_id])
    assert DeadLetter.objects.get(id=row_id).resolution == "replayed"


def test_list_filters_search_and_date_hierarchy_render(admin_client: Client) -> None:
    dead_letter()
    url = reverse(CHANGELIST)
    for params in ({"status__exact": "pending"}, {"resolution__exact": "replayed"}, {"q": "ValueError"},
                   {"last_failed_at__year": "2020"}, {"failure_kind__exact": "error"}):  # fmt: skip
        assert admin_client.get(url, params).status_code == 200, params
    assert "ValueError" in admin_client.get(url, {"q": "ValueError"}).content.decode()
    assert "ValueError" not in admin_client.get(url, {"last_failed_at__year": "2020"}).content.decode()


def test_list_page_queries_do_not_grow_with_rows(admin_client: Client) -> None:
    dead_letter()
    url = reverse(CHANGELIST)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for _ in range(30):
        dead_letter()
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many) == len(few) <= 20
