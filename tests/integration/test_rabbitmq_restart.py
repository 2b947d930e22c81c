"""A RabbitMQ restart in the middle of a run: the worker reconnects and drains the queue.

Uses a private broker (tests/servers.py) so the shared one is never disturbed; booting it
takes a few seconds, so this module starts it once for all its tests.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apps.worker_process import records, start_worker, stop
from tests.integration.test_rabbitmq_worker import publish_ids, queue_counts
from tests.needs import require_module
from tests.servers import RabbitMQServer
from tests.waiting import wait_until

pika = require_module("pika")

TARGET = "tests.integration.apps.rabbitmq_worker_app:app"


@pytest.fixture(scope="module")
def broker(amqp_url: str) -> Iterator[RabbitMQServer]:
    # amqp_url: skip locally / fail in CI exactly like the other RabbitMQ tests.
    # Not under pytest's tmp_path: its parents are mode 0700 and the broker runs as the
    # ``rabbitmq`` user, which must reach its data dir (mkdtemp's parent is /tmp).
    data_dir = Path(tempfile.mkdtemp(prefix="onestep-rmq-restart-"))
    server = RabbitMQServer(data_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def amqp_url() -> str:
    from tests.needs import require_server

    return require_server("ONESTEP_TEST_AMQP_URL")


@pytest.mark.slow
def test_worker_survives_a_broker_restart_and_drains_the_queue(
    broker: RabbitMQServer, tmp_path: Path
) -> None:
    queue, out, log = f"restart-{uuid.uuid4().hex[:8]}", tmp_path / "handled.txt", tmp_path / "worker.log"
    publish_ids(broker.url, queue, range(600))
    env = {"H4B_AMQP_URL": broker.url, "H4B_QUEUE": queue, "H4B_OUT": str(out), "H4B_WORK_S": "0.1"}
    worker = start_worker(TARGET, env, log)
    try:
        wait_until(lambda: len(records(out)) >= 50, 120, "the worker to make progress")
        broker.stop()  # durable queue + persistent messages survive it; the socket does not
        # A backlog stayed on the broker (beyond the <= 50 prefetched messages in flight).
        assert len(records(out)) < 600 - 50
        broker.start()
        assert worker.poll() is None, "the worker must not exit when the broker goes away"
        publish_ids(broker.url, queue, range(600, 700))  # new work after the restart
        wait_until(lambda: {i for i, _ in records(out)} == set(range(700)), 180, "every id to be handled")
        wait_until(lambda: queue_counts(broker.url, queue) == [0], 60, "the queue to empty")
        assert worker.poll() is None
    finally:
        code = stop(worker)
    assert {i for i, _ in records(out)} == set(range(700))
    assert code == 0, log.read_text()[-3000:]
    assert "reconnected" in log.read_text()
