"""The task catalogue: every project task with its record; pause, resume and run now."""

from __future__ import annotations

import asyncio
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

from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.models import Job, PausedTask, TaskMetric
from django_onestep.worker.telemetry_setup import WorkerTelemetry
from tests.django.dbqueue_helpers import orm

CATALOGUE = "admin:django_onestep_pausedtask_changelist"


def client_with(*codenames: str) -> Client:
    user = get_user_model().objects.create_user(f"op-{'-'.join(codenames)}", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def row_of(body: str, task: str) -> str:
    start = body.index(f'id="task-{task}"')
    return body[start : body.index("</tr>", start)]


@pytest.mark.django_db
def test_the_catalogue_lists_every_task_with_its_record(admin_client: Client) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    TaskMetric.objects.create(app="testproject", task="record", window_start=now - timedelta(minutes=3),
                              succeeded=9, failed=1)  # fmt: skip
    TaskMetric.objects.create(app="testproject", task="record", window_start=now - timedelta(hours=3),
                              failed=4)  # fmt: skip
    body = admin_client.get(reverse(CATALOGUE)).content.decode()
    for task in ("record", "always_fails", "count", "slow"):
        assert f'id="task-{task}"' in body
    record = row_of(body, "record")
    assert "DatabaseQueue(testapp.work)" in record and "<td>4</td>" in record  # source, concurrency
    assert "<td>10.0%</td>" in record  # failures over the last hour only
    assert "active" in record and "Run now" in record
    assert "MaxAttempts" in row_of(body, "always_fails")


@pytest.mark.django_db
def test_pause_and_resume_write_the_row_and_the_history(admin_client: Client) -> None:
    admin_client.post(reverse("admin:django_onestep_pausedtask_pause", args=["record"]))
    row = PausedTask.objects.get()
    assert (row.app, row.task, row.paused_by) == ("testproject", "record", "boss")
    body = admin_client.get(reverse(CATALOGUE)).content.decode()
    assert "paused by boss" in row_of(body, "record") and "onestep-resume" in row_of(body, "record")
    admin_client.post(reverse("admin:django_onestep_pausedtask_resume", args=["record"]))
    assert not PausedTask.objects.exists()
    assert [entry.get_change_message() for entry in LogEntry.objects.order_by("id")] == ["Paused", "Resumed"]
    assert (
        admin_client.post(reverse("admin:django_onestep_pausedtask_pause", args=["nope"])).status_code == 404
    )


@pytest.mark.django_db
def test_run_now_validates_the_payload_then_enqueues(admin_client: Client) -> None:
    url = reverse("admin:django_onestep_pausedtask_run", args=["record"])
    assert "payload: not valid JSON" in admin_client.post(url, {"payload": "{nope"}).content.decode()
    assert not Job.objects.exists()
    admin_client.post(url, {"payload": '{"label": "from-admin"}'})
    job = Job.objects.get()
    assert (job.queue, job.payload, job.status) == ("testapp.work", {"label": "from-admin"}, "queued")
    assert LogEntry.objects.get().object_id == str(job.id)


@pytest.mark.django_db
def test_without_permissions_nothing_is_offered_or_done() -> None:
    client = client_with("view_pausedtask")
    body = client.get(reverse(CATALOGUE)).content.decode()
    assert 'class="onestep-pause"' not in body and "Run now" not in body
    assert client.post(reverse("admin:django_onestep_pausedtask_pause", args=["record"])).status_code == 403
    run = reverse("admin:django_onestep_pausedtask_run", args=["record"])
    assert client.post(run, {"payload": "{}"}).status_code == 403
    assert not PausedTask.objects.exists() and not Job.objects.exists()
    assert client_with().get(reverse(CATALOGUE)).status_code in (302, 403)


@pytest.mark.django_db
def test_the_catalogue_runs_a_fixed_number_of_queries(admin_client: Client) -> None:
    admin_client.get(reverse(CATALOGUE))
    with CaptureQueriesContext(connection) as few:
        admin_client.get(reverse(CATALOGUE))
    now = timezone.now()
    for minute in range(30):
        for task in ("record", "count", "slow"):
            TaskMetric.objects.create(app="testproject", task=task, window_start=now - timedelta(minutes=minute),
                                      succeeded=1, failed=1)  # fmt: skip
    with CaptureQueriesContext(connection) as many:
        admin_client.get(reverse(CATALOGUE))
    assert len(many) == len(few) <= 10


@pytest.mark.django_db(transaction=True)
async def test_workers_follow_the_paused_rows_at_each_heartbeat() -> None:
    app = OneStepApp("testproject")

    @app.task(source=MemoryQueue("q"))
    async def noop(ctx: Any, payload: Any) -> None:
        return None

    telemetry = WorkerTelemetry(app, ["noop"])
    await telemetry.start()
    try:
        assert not app.is_task_paused("noop")
        await orm(
            lambda: PausedTask.objects.create(app="testproject", task="noop", paused_at=timezone.now())
        )()
        await telemetry.heartbeat.beat()
        assert app.is_task_paused("noop")
        await orm(lambda: PausedTask.objects.all().delete())()
        await telemetry.heartbeat.beat()
        assert not app.is_task_paused("noop")
    finally:
        await telemetry.stop()


@pytest.mark.django_db(transaction=True)
async def test_a_task_paused_by_code_is_not_resumed_by_the_admin() -> None:
    app = OneStepApp("testproject")

    @app.task(source=MemoryQueue("q"))
    async def noop(ctx: Any, payload: Any) -> None:
        return None

    telemetry = WorkerTelemetry(app, ["noop"])
    await telemetry.start()
    try:
        app.request_task_pause("noop")
        await telemetry.heartbeat.beat()  # no PausedTask row
        assert app.is_task_paused("noop")
    finally:
        await telemetry.stop()


@pytest.mark.django_db(transaction=True)
async def test_a_task_paused_before_the_worker_serves_never_runs() -> None:
    app = OneStepApp("testproject")
    queue = MemoryQueue("q")
    ran: list[Any] = []

    @app.task(source=queue)
    async def noop(ctx: Any, payload: Any) -> None:
        ran.append(payload)

    await queue.publish({"n": 1})
    await orm(lambda: PausedTask.objects.create(app="testproject", task="noop", paused_at=timezone.now()))()
    telemetry = WorkerTelemetry(app, ["noop"])
    await telemetry.start()  # the first beat, before serve() (which clears the pause flags)
    serving = asyncio.create_task(app.serve())
    try:
        await asyncio.sleep(0.5)
        assert app.is_task_paused("noop") and ran == []
    finally:
        app.request_shutdown()
        await serving
        await telemetry.stop()
