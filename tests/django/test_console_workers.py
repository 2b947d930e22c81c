"""The workers page: live/stale/stopped, drain and stop requests read back by the heartbeat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.models import WorkerHeartbeat
from django_onestep.orm.telemetry import HeartbeatWriter
from django_onestep.worker.telemetry_setup import WorkerTelemetry
from tests.django.dbqueue_helpers import orm

CHANGELIST = "admin:django_onestep_workerheartbeat_changelist"


def worker(worker_id: str, *, seen_s_ago: float = 1, status: str = "running", **fields: Any) -> None:
    seen = timezone.now() - timedelta(seconds=seen_s_ago)
    WorkerHeartbeat.objects.create(worker_id=worker_id, app="a", host="h", pid=7, status=status,
                                   started_at=seen - timedelta(hours=2), last_seen=seen, **fields)  # fmt: skip


def client_with(*codenames: str, superuser: bool = False) -> Client:
    model = get_user_model()
    if superuser:
        user = model.objects.create_superuser("boss", "b@example.com", "pw")
    else:
        user = model.objects.create_user("viewer", password="pw", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def shown(client: Client, query: str = "") -> list[str]:
    rows = client.get(reverse(CHANGELIST) + query).context["cl"].result_list
    return sorted(row.worker_id for row in rows)


@pytest.mark.django_db
def test_state_columns_and_stopped_workers_folded_away() -> None:
    worker("live", in_flight=3, tasks=["send_email", "charge"], version="0.1.0")
    worker("stale", seen_s_ago=600)
    worker("stopped", status="stopped")
    client = client_with(superuser=True)
    assert shown(client) == ["live", "stale"]
    assert shown(client, "?state=live") == ["live"]
    assert shown(client, "?state=stale") == ["stale"]
    assert shown(client, "?state=stopped") == ["stopped"]
    assert shown(client, "?state=all") == ["live", "stale", "stopped"]
    body = client.get(reverse(CHANGELIST)).content.decode()
    assert '<td class="field-state">live</td>' in body and '<td class="field-state">stale</td>' in body
    assert '<td class="field-task_list">send_email, charge</td>' in body
    assert '<td class="field-uptime">2\xa0hours</td>' in body


@pytest.mark.django_db
def test_stop_and_drain_write_the_request_and_the_history() -> None:
    worker("w1")
    worker("w2")
    worker("gone", status="stopped")
    client = client_with(superuser=True)
    ids = {row.worker_id: str(row.pk) for row in WorkerHeartbeat.objects.all()}
    data = {"action": "stop_selected", "_selected_action": [ids["w1"], ids["gone"]]}
    body = client.post(reverse(CHANGELIST), data, follow=True).content.decode()
    assert "Asked 1 worker(s) to stop" in body
    client.post(reverse(CHANGELIST), {"action": "drain_selected", "_selected_action": [ids["w2"]]})
    requests = dict(WorkerHeartbeat.objects.values_list("worker_id", "requested"))
    assert requests == {"w1": "stop", "w2": "drain", "gone": ""}
    assert sorted(LogEntry.objects.values_list("change_message", flat=True)) == [
        "Requested drain",
        "Requested stop",
    ]


@pytest.mark.django_db
def test_a_viewer_cannot_stop_a_worker() -> None:
    worker("w1")
    client = client_with("view_workerheartbeat")
    assert "stop_selected" not in client.get(reverse(CHANGELIST)).content.decode()
    row_id = str(WorkerHeartbeat.objects.get().pk)
    client.post(reverse(CHANGELIST), {"action": "stop_selected", "_selected_action": [row_id]})
    assert WorkerHeartbeat.objects.get().requested == ""


@pytest.mark.django_db(transaction=True)
async def test_the_heartbeat_hands_the_request_to_the_worker() -> None:
    seen: list[str] = []
    writer = HeartbeatWriter("a", ["t"], interval_s=3600, on_request=seen.append)
    await writer.start()
    try:
        assert seen == []
        await orm(lambda: WorkerHeartbeat.objects.update(requested="drain"))()
        await writer.beat()
        assert seen == ["drain"]
    finally:
        await writer.stop()
    assert (await orm(lambda: WorkerHeartbeat.objects.get())()).requested == "drain"  # the beat kept it


@pytest.mark.django_db(transaction=True)
async def test_a_stop_requested_before_serving_is_honoured() -> None:
    app = OneStepApp("a")

    @app.task(source=MemoryQueue("q"))
    async def noop(ctx: Any, payload: Any) -> None:
        return None

    telemetry = WorkerTelemetry(app, ["noop"])
    worker_id = telemetry.heartbeat.worker_id
    await orm(lambda: worker(worker_id, requested="stop"))()  # set while the worker was starting
    await telemetry.start()  # the first beat reads it, before serve()
    try:
        assert app.runtime.lifecycle.stopping
        await app.serve()  # returns at once instead of serving
    finally:
        await telemetry.stop()
