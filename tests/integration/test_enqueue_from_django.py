"""Enqueueing from sync Django code to Redis, RabbitMQ and SQS: at once, on commit, outbox.

Each test runs against the three real brokers. "Nothing was published" is proven by
publishing a marker right after and reading until it: anything before it would show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from django_onestep.connectors.publisher_thread import shutdown
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.models import OutboxMessage
from django_onestep.outbox.relay import OutboxRelay
from testproject.testapp.models import Order
from tests.broker_queues import (
    KINDS,
    aws_env,
    broker_queue,
    client_module,
    new_queue_name,
    read_all,
    server_env,
)
from tests.integration.apps import enqueue_views
from tests.needs import require_module, require_server
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> Iterator[str]:
    require_server(server_env(request.param))
    require_module(client_module(request.param))
    yield request.param
    shutdown()  # each test's publisher connections closed before the next


@pytest.fixture
def name(kind: str) -> str:
    return new_queue_name(kind)


def only_marker_after(kind: str, name: str, queue: Any) -> list[Any]:
    queue.send({"marker": True}, on_commit=False)
    got = read_all(kind, name, quiet_s=0.5)
    assert got and got[-1].body == {"marker": True}
    return got[:-1]


@pytest.mark.urls("tests.integration.apps.enqueue_views")
def test_a_sync_view_enqueues_and_returns_the_message_id(kind: str, name: str) -> None:
    enqueue_views.QUEUE["queue"] = broker_queue(kind, name)
    response = Client().post("/orders/", {"reference": f"view-{kind}"})
    assert response.status_code == 200, response.content
    reply = response.json()
    (message,) = read_all(kind, name, count=1)
    assert message.body == {"order": reply["order"], "reference": f"view-{kind}"}
    assert message.meta["message_id"] == reply["message_id"]


def test_nothing_is_published_after_a_rollback(kind: str, name: str) -> None:
    queue = broker_queue(kind, name)
    with pytest.raises(RuntimeError), transaction.atomic():
        Order.objects.create(reference=f"rolled-back-{kind}")
        queue.send({"rolled": "back"})
        raise RuntimeError("roll back")
    assert only_marker_after(kind, name, queue) == []


def test_on_commit_false_publishes_at_once_even_in_a_transaction(kind: str, name: str) -> None:
    queue = broker_queue(kind, name)
    with transaction.atomic():
        message_id = queue.send({"at": "once"}, on_commit=False)
        (message,) = read_all(kind, name, count=1)
    assert message.meta["message_id"] == message_id


def _worker_reads(kind: str, name: str, wait_s: float, *, on_commit: bool) -> bool:
    """A worker serves the queue; its handler reads the order the message names.

    The enqueuing transaction stays open ``wait_s`` after the send: a message published
    before the commit reaches the handler while the order is not visible yet.
    """
    seen: list[bool] = []
    app = OneStepApp(f"reader-{kind}", shutdown_timeout_s=5)

    @app.task(source=broker_queue(kind, name), concurrency=1)
    def handle(ctx: Any, payload: Any) -> None:
        seen.append(Order.objects.filter(reference=payload.get("reference", "")).exists())

    thread = threading.Thread(target=lambda: __import__("asyncio").run(app.serve()), daemon=True)
    thread.start()
    queue = broker_queue(kind, name)
    try:
        queue.send({"reference": "warm-up"}, on_commit=False)  # the worker is consuming before we start
        wait_until(lambda: len(seen) == 1, 30, "the worker's first message")
        with transaction.atomic():
            Order.objects.create(reference=f"committed-{kind}")
            queue.send({"reference": f"committed-{kind}"}, on_commit=on_commit)
            time.sleep(wait_s)
        wait_until(lambda: len(seen) == 2, 30, "the handler ran")
    finally:
        app.request_shutdown()
        thread.join(30)
    return seen[1]


def test_on_commit_the_handler_sees_the_committed_row_on_its_first_read(kind: str, name: str) -> None:
    assert _worker_reads(kind, name, 0.5, on_commit=True) is True


def test_published_at_once_the_handler_can_run_before_the_commit(kind: str, name: str) -> None:
    # the control: the same check does see a publish that happens before the commit
    assert _worker_reads(kind, name, 1.5, on_commit=False) is False


def test_outbox_writes_a_row_in_the_transaction_and_the_relay_publishes_it(kind: str, name: str) -> None:
    queue = broker_queue(kind, name)
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.send({"rolled": "back"}, outbox=True)
        raise RuntimeError("roll back")
    assert OutboxMessage.objects.count() == 0
    with transaction.atomic():
        message_id = queue.send({"kept": 1}, outbox=True)
    assert only_marker_after(kind, name, queue) == []  # in the table, not on the broker yet
    (row,) = OutboxMessage.objects.all()
    assert row.message_id == message_id and row.target == queue.publish_target
    result = OutboxRelay(using="default").run_once()
    assert (result.published, result.failed) == (1, 0)
    assert OutboxMessage.objects.count() == 0
    (message,) = read_all(kind, name, count=1)
    assert message.body == {"kept": 1}
    assert message.meta["message_id"] == message_id


def test_delay_s_holds_the_message_back(kind: str, name: str) -> None:
    queue = broker_queue(kind, name)
    queue.send({"later": True}, delay_s=1.5)
    assert read_all(kind, name, quiet_s=0.5) == []
    (message,) = read_all(kind, name, count=1, timeout_s=15)
    assert message.body == {"later": True}


def test_a_relay_that_dies_before_deleting_publishes_again_with_the_same_id(
    kind: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = broker_queue(kind, name)
    message_id = queue.send({"twice": True}, outbox=True)

    def die(*args: Any, **kwargs: Any) -> None:
        raise SystemExit("the relay died after the broker accepted, before deleting the row")

    with monkeypatch.context() as patch:
        patch.setattr("django.db.models.query.QuerySet.delete", die)
        with pytest.raises(SystemExit):
            OutboxRelay(using="default").run_once()
    assert OutboxMessage.objects.count() == 1
    OutboxMessage.objects.update(lease_until=timezone.now())  # its lease ran out
    assert OutboxRelay(using="default").run_once().published == 1
    assert OutboxMessage.objects.count() == 0
    copies = read_all(kind, name, count=2)
    assert [m.body for m in copies] == [{"twice": True}] * 2
    assert {m.meta["message_id"] for m in copies} == {message_id}


def test_many_threads_send_at_once_through_one_publisher(kind: str, name: str) -> None:
    queue = broker_queue(kind, name)
    ids: list[str] = []

    def sender(thread: int) -> None:
        ids.extend(queue.send({"t": thread, "n": n}) for n in range(10))

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    messages = read_all(kind, name, count=80, timeout_s=60)
    assert len(set(ids)) == 80
    assert sorted(m.meta["message_id"] for m in messages) == sorted(ids)


def test_on_an_sqs_fifo_queue_the_message_id_deduplicates_a_relay_that_published_twice(
    sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_module("boto3")
    import boto3

    aws_env()
    client = boto3.client("sqs", region_name="us-east-1", endpoint_url=sqs_endpoint)
    url = client.create_queue(QueueName=f"enq-{time.monotonic_ns()}.fifo", Attributes={"FifoQueue": "true"})
    queue = broker_queue("sqs", url["QueueUrl"])
    queue.send({"n": 1}, outbox=True, group_id="orders")
    with monkeypatch.context() as patch:
        patch.setattr(
            "django.db.models.query.QuerySet.delete", lambda *a, **k: (_ for _ in ()).throw(SystemExit)
        )
        with pytest.raises(SystemExit):
            OutboxRelay(using="default").run_once()
    OutboxMessage.objects.update(lease_until=timezone.now())  # its lease ran out
    assert OutboxRelay(using="default").run_once().published == 1
    (message,) = read_all("sqs", url["QueueUrl"], quiet_s=0.5)
    assert message.body == {"n": 1}
    shutdown()
