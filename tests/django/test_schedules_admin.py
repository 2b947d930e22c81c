"""The schedules list in the admin: read-only rows, pause/resume and "run now" actions."""

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
    assert reverse("admin:django_onestep_schedule_add") not in body  # code-defined: nothing to add


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
