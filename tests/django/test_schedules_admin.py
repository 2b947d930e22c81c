"""The schedules list in the admin: code-defined rows read-only with pause/resume and
"run now"; schedules defined in the admin, checked as a worker will read them.

(A worker picking them up: tests/acceptance/test_schedule_workers.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_onestep.models import Schedule

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_onestep_schedule_changelist"


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def row() -> Schedule:
    now = timezone.now()
    return Schedule.objects.create(
        key="shop:nightly",
        app="shop",
        task="nightly",
        definition="cron 30 2 * * * Europe/Berlin",
        timezone="Europe/Berlin",
        next_fire_at=now + timedelta(hours=3),
        last_outcome="succeeded",
        updated_at=now,
    )


def act(client: Client, action: str, row: Schedule) -> str:
    response = client.post(reverse(CHANGELIST), {"action": action, "_selected_action": [row.pk]}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_the_list_shows_each_schedule_and_its_state(admin_client: Client, row: Schedule) -> None:
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "shop:nightly" in body and "cron 30 2 * * * Europe/Berlin" in body and "succeeded" in body


def test_pause_and_resume(admin_client: Client, row: Schedule) -> None:
    assert "1 schedule(s) paused" in act(admin_client, "pause_schedules", row)
    assert Schedule.objects.get(pk=row.pk).paused
    assert "1 schedule(s) resumed" in act(admin_client, "resume_schedules", row)
    assert not Schedule.objects.get(pk=row.pk).paused


def test_run_now_records_the_request_for_the_workers(admin_client: Client, row: Schedule) -> None:
    before = timezone.now()
    assert "1 run(s) requested" in act(admin_client, "run_schedules_now", row)
    requested = Schedule.objects.get(pk=row.pk).run_requested_at
    assert requested is not None and requested >= before


def test_a_code_defined_schedule_cannot_be_edited(admin_client: Client, row: Schedule) -> None:
    url = reverse("admin:django_onestep_schedule_change", args=[row.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="definition"' not in page and 'name="paused"' not in page  # shown, not editable
    admin_client.post(url, {"definition": "cron * * * * * UTC", "paused": "on"})
    row.refresh_from_db()
    assert (row.definition, row.paused) == ("cron 30 2 * * * Europe/Berlin", False)


ADD = "admin:django_onestep_schedule_add"


def form(**fields: str) -> dict[str, str]:
    base = {
        "key": "tick-every-5s",
        "app": "testproject",
        "task": "record",
        "timezone": "UTC",
        "payload": "null",
    }
    return {**base, **fields}


def test_a_schedule_defined_in_the_admin_is_saved_with_its_rule(admin_client: Client) -> None:
    response = admin_client.post(reverse(ADD), form(interval_s="5", payload='{"label": "tick"}'))
    assert response.status_code == 302, response.content.decode()
    row = Schedule.objects.get(key="tick-every-5s")
    assert (row.origin, row.definition, row.payload, row.next_fire_at) == (
        "admin",
        "interval 5s UTC",
        {"label": "tick"},
        None,
    )
    url = reverse("admin:django_onestep_schedule_change", args=[row.pk])
    Schedule.objects.filter(pk=row.pk).update(next_fire_at=timezone.now())  # as a worker would
    data = form(expression="30 2 * * *", timezone="Europe/Berlin", payload='{"label": "tick"}')
    assert admin_client.post(url, data).status_code == 302
    row.refresh_from_db()
    assert (row.definition, row.next_fire_at) == (
        "cron 30 2 * * * Europe/Berlin",
        None,
    )  # a new rule starts afresh


def test_a_one_off_needs_only_a_run_at_time(admin_client: Client) -> None:
    response = admin_client.post(
        reverse(ADD), form(key="once", run_requested_at_0="2030-01-02", run_requested_at_1="03:04:05")
    )
    assert response.status_code == 302, response.content.decode()
    row = Schedule.objects.get(key="once")
    assert (row.definition, row.run_requested_at.year) == ("one-off", 2030)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"expression": "61 * * * *"}, "minute value &#x27;61&#x27; is outside 0-59"),
        ({"expression": "* * * * *", "interval_s": "5"}, "give a cron expression or an interval, not both"),
        ({}, "give a cron expression, an interval, or (for a one-off) a run at time"),
        ({"interval_s": "0"}, "interval must be greater than zero"),
        ({"interval_s": "5", "timezone": "Mars/Olympus"}, "is not a known IANA timezone"),
        ({"interval_s": "5", "payload": "{not json"}, "Enter a valid JSON."),
        ({"interval_s": "5", "task": "nope"}, "app &#x27;testproject&#x27; has no task &#x27;nope&#x27;"),
        (
            {
                "interval_s": "5",
                "start_at_0": "2030-01-02",
                "start_at_1": "00:00",
                "end_at_0": "2030-01-01",
                "end_at_1": "00:00",
            },
            "the end must come after the start",
        ),
    ],
)
def test_a_bad_schedule_is_refused_with_a_message(
    admin_client: Client, fields: dict[str, str], message: str
) -> None:
    response = admin_client.post(reverse(ADD), form(**fields))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Schedule.objects.exists()


def test_only_a_task_with_a_queue_can_be_scheduled_from_the_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_onestep import IntervalSource, OneStepApp
    from django_onestep.project import schedule_tasks

    app = OneStepApp("testproject")

    @app.task(source=IntervalSource.every(seconds=5))
    async def ticking(ctx: object, payload: object) -> None: ...

    monkeypatch.setattr(schedule_tasks, "get_project_app", lambda: app)
    problem = schedule_tasks.queue_task_problem("testproject", "ticking")
    assert problem == "task 'ticking' has no queue source: a schedule here enqueues jobs on its task's queue"
    assert (
        schedule_tasks.queue_task_problem("another-app", "anything") is None
    )  # a TARGET's app: not known here
