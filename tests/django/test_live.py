"""Live updates over Channels with the in-memory layer: job events, the sink, the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.test import Client, override_settings

from django_onestep import MemoryQueue, OneStepApp
from django_onestep.core.errors import ConfigurationError
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.live.channel_sink import ChannelLayerSink
from django_onestep.live.dashboard_feed import connect_dashboard_feed
from django_onestep.live.job_events import apublish_job_event, channel_layer, publish_job_event
from django_onestep.signals import task_succeeded
from tests.django.live_helpers import MEMORY_LAYERS, communicator, staff_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sqlite_only]


def new_job() -> int:
    return int(DatabaseQueue("live-jobs").send({"report": 1}))


async def watch_job_events(layers: dict[str, Any]) -> None:
    """The scenario both layers run: status first, then progress and the result, in order."""
    with override_settings(CHANNEL_LAYERS=layers):
        job_id = await sync_to_async(new_job)()
        user = await sync_to_async(staff_user)()
        client = communicator(f"/ws/onestep/jobs/{job_id}/", user)
        connected, _ = await client.connect()
        assert connected
        status = await client.receive_json_from(timeout=5)
        assert (status["event"], status["data"]["status"]) == ("status", "queued")
        assert await apublish_job_event(job_id, "progress", {"done": 1, "total": 2})
        assert await apublish_job_event(job_id, "progress", {"done": 2, "total": 2})
        assert await apublish_job_event(job_id, "result", {"status": "done", "value": 42})
        assert await apublish_job_event(job_id + 1, "progress", {"other": True})  # not this job's
        got = [await client.receive_json_from(timeout=5) for _ in range(3)]
        assert got == [
            {"job_id": str(job_id), "event": "progress", "data": {"done": 1, "total": 2}},
            {"job_id": str(job_id), "event": "progress", "data": {"done": 2, "total": 2}},
            {"job_id": str(job_id), "event": "result", "data": {"status": "done", "value": 42}},
        ]
        assert await client.receive_nothing(timeout=0.2)
        await client.disconnect()


async def test_a_subscriber_gets_the_status_then_progress_and_result() -> None:
    await watch_job_events(MEMORY_LAYERS)


@override_settings(CHANNEL_LAYERS=MEMORY_LAYERS)
async def test_anonymous_and_non_staff_users_are_refused_and_unknown_jobs_are_404() -> None:
    from django.contrib.auth.models import User

    job_id = await sync_to_async(new_job)()
    for user in (AnonymousUser(), await sync_to_async(User.objects.create_user)("plain", password="pw")):
        client = communicator(f"/ws/onestep/jobs/{job_id}/", user)
        connected, code = await client.connect()
        assert (connected, code) == (False, 4403)
    staff = await sync_to_async(staff_user)()
    connected, code = await communicator(f"/ws/onestep/jobs/{job_id + 99}/", staff).connect()
    assert (connected, code) == (False, 4404)


def test_publishing_without_a_layer_is_a_no_op() -> None:
    with override_settings(CHANNEL_LAYERS={}):
        assert channel_layer() is None
        assert publish_job_event(1, "progress", {}) is False
    with override_settings(CHANNEL_LAYERS=MEMORY_LAYERS):
        assert publish_job_event(1, "progress", {}) is True  # sync callers (handlers, views)


@override_settings(CHANNEL_LAYERS=MEMORY_LAYERS)
async def test_the_sink_sends_each_output_to_the_group_its_body_names() -> None:
    layer = channel_layer()
    listener = await layer.new_channel()
    await layer.group_add("user.7", listener)
    app = OneStepApp("live-sink")
    queue = MemoryQueue("in")

    @app.task(source=queue, emit=ChannelLayerSink(group=lambda body: f"user.{body['user']}"))
    async def enrich(ctx: Any, payload: Any) -> Any:
        ctx.app.request_shutdown()
        return {"user": payload["user"], "total": 3}

    await queue.publish({"user": 7})
    await app.serve()
    message = await layer.receive(listener)
    assert (message["type"], message["body"]) == ("onestep.output", {"user": 7, "total": 3})


async def test_the_sink_names_what_is_missing() -> None:
    with pytest.raises(ConfigurationError, match="group must be"):
        ChannelLayerSink(group="has spaces")
    with override_settings(CHANNEL_LAYERS={}):
        from django_onestep.core.envelope import Envelope

        with pytest.raises(ConfigurationError, match="CHANNEL_LAYERS has no 'default' layer"):
            await ChannelLayerSink(group="g").send(Envelope(body={}))


@override_settings(CHANNEL_LAYERS=MEMORY_LAYERS)
async def test_the_dashboard_socket_gets_one_message_per_task_a_second() -> None:
    connect_dashboard_feed()
    staff = await sync_to_async(staff_user)()
    client = communicator("/ws/onestep/dashboard/", staff)
    assert (await client.connect())[0]

    class Event:
        kind = "succeeded"

    for _ in range(5):
        await task_succeeded.asend(sender=None, task_name="live-report", event=Event())
    assert await client.receive_json_from(timeout=5) == {"task": "live-report", "kind": "succeeded"}
    assert await client.receive_nothing(timeout=0.3)  # the other four were folded into it
    await client.disconnect()
    nobody = communicator("/ws/onestep/dashboard/", AnonymousUser())
    assert await nobody.connect() == (False, 4403)


def test_the_dashboard_page_goes_live_with_a_layer_and_polls_without() -> None:
    staff_user()
    client = Client()
    client.login(username="ops", password="pw")
    url = "/admin/django_onestep/taskmetric/dashboard/"
    with override_settings(CHANNEL_LAYERS=MEMORY_LAYERS):
        live = client.get(url).content.decode()
    with override_settings(CHANNEL_LAYERS={}):
        polling = client.get(url).content.decode()
    assert "/ws/onestep/dashboard/" in live and 'http-equiv="refresh"' not in live
    assert 'http-equiv="refresh"' in polling and "WebSocket" not in polling
