"""RabbitMQ at-least-once under SIGKILL, and poison messages through the real runtime."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from django_onestep.connectors.rabbitmq import RabbitMQConnector
from tests.integration.apps.worker_process import records, sigkill, start_worker, stop
from tests.needs import require_module
from tests.waiting import serve_started, wait_until

pika = require_module("pika")

TARGET = "tests.integration.apps.rabbitmq_worker_app:app"


def publish_ids(url: str, queue: str, ids: range) -> None:
    """Another application publishes plain JSON into a plain durable queue."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        ch.queue_declare(queue, durable=True)
        ch.confirm_delivery()
        for i in ids:
            ch.basic_publish("", queue, json.dumps({"id": i}).encode(), pika.BasicProperties(delivery_mode=2))
    finally:
        conn.close()


def queue_counts(url: str, *queues: str) -> list[int]:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        return [int(ch.queue_declare(q, passive=True).method.message_count) for q in queues]
    finally:
        conn.close()


def delete_queues(url: str, *queues: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        for q in queues:
            ch.queue_delete(q)
    finally:
        conn.close()


@pytest.mark.slow
def test_five_sigkills_lose_no_message(amqp_url: str, tmp_path: Path) -> None:
    queue, out, total = f"kill-{uuid.uuid4().hex[:8]}", tmp_path / "handled.txt", 1000
    publish_ids(amqp_url, queue, range(total))
    env = {"H4B_AMQP_URL": amqp_url, "H4B_QUEUE": queue, "H4B_OUT": str(out), "H4B_WORK_S": "0.02"}
    log = tmp_path / "worker.log"
    kills = 0
    try:
        for _ in range(5):
            worker = start_worker(TARGET, env, log)
            before = len(records(out))
            # Kill only once this worker is mid-run (it handled some, and more are left).
            wait_until(lambda b=before: len(records(out)) >= b + 60, 120, "the worker to make progress")
            sigkill(worker)
            kills += 1
            assert len({i for i, _ in records(out)}) < total, "the kill must land before the work is done"
        worker = start_worker(TARGET, env, log)
        wait_until(lambda: {i for i, _ in records(out)} == set(range(total)), 180, "every id to be handled")
        wait_until(lambda: queue_counts(amqp_url, queue) == [0], 60, "the queue to empty")
    finally:
        code = stop(worker)
    handled = records(out)
    assert kills == 5
    assert {i for i, _ in handled} == set(range(total))  # 0 lost
    # Duplicates are bounded by what was in flight at each kill (prefetch 50 per worker).
    assert len(handled) - total <= 5 * 50, len(handled) - total
    assert queue_counts(amqp_url, queue) == [0]  # nothing left unacked after a graceful stop
    assert code == 0, log.read_text()[-3000:]
    delete_queues(amqp_url, queue, f"{queue}.dead")


async def test_poison_message_is_dead_lettered_after_max_attempts_without_a_hot_loop(amqp_url: str) -> None:
    from django_onestep.core.retry import MaxAttempts
    from django_onestep.core.runtime.app import OneStepApp

    name = f"poison-{uuid.uuid4().hex[:8]}"
    rmq = RabbitMQConnector(amqp_url)
    source = rmq.queue(name, poll_interval_s=0.1)
    dead = rmq.queue(f"{name}.dead", poll_interval_s=0.1)
    app = OneStepApp("h4b-poison", shutdown_timeout_s=5)
    seen: list[int] = []

    @app.task(source=source, dead_letter=dead, retry=MaxAttempts(max_attempts=3, delay_s=0.2))
    async def always_fails(ctx, payload):  # type: ignore[no-untyped-def]
        seen.append(ctx.current.attempts)
        raise ValueError("cannot process this one")

    # Startup declares both queues on the sessions this test then uses itself: reading
    # "<name>.dead" while the app is still declaring it is a 404 (no queue).
    serving = await serve_started(app)
    try:
        await source.publish({"id": 1})
        dead_letters = []
        for _ in range(300):  # up to ~30 s
            dead_letters += await dead.fetch(10)
            if dead_letters:
                break
        assert len(dead_letters) == 1
        await asyncio.sleep(1.0)  # a hot loop would keep delivering meanwhile
        assert seen == [0, 1, 2]  # deliveries <= max_attempts + 1
        letter = dead_letters[0]
        assert letter.payload["payload"] == {"id": 1}
        assert letter.payload["failure"]["exception_type"] == "ValueError"
        assert letter.envelope.meta["original_attempts"] == 2
        await letter.release_unstarted()  # back into the dead-letter queue, for the replay below
    finally:
        app.request_shutdown()
        await asyncio.wait_for(serving, 30)
    # onestep's replay: dead queue (a Source) -> task source (a Sink), original attempts kept.
    status = await app.replay_task_dead_letters("always_fails", limit=10)
    assert (status["replayed_count"], status["failed_count"]) == (1, 0)
    replayed = []
    for _ in range(100):
        replayed += await source.fetch(10)
        if replayed:
            break
    assert [(d.payload, d.envelope.attempts) for d in replayed] == [({"id": 1}, 2)]
    await replayed[0].ack()
    await source.close()
    await dead.close()
    assert queue_counts(amqp_url, name, f"{name}.dead", f"{name}.retry.200") == [0, 0, 0]
    delete_queues(amqp_url, name, f"{name}.dead", f"{name}.retry.200")
