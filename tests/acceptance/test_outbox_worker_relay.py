"""``onestep_worker`` runs the outbox relay: rows written in a transaction reach its own task."""

from __future__ import annotations

import signal

import pytest
from django.db import transaction

from django_onestep.models import OutboxMessage
from testproject.testapp.models import Run
from tests.acceptance.conftest import ManagePy
from tests.broker_queues import broker_queue, new_queue_name
from tests.needs import require_module, require_server
from tests.waiting import wait_until

pytestmark = pytest.mark.sqlite_only


def test_the_worker_relays_the_outbox_to_the_broker_its_task_reads(manage: ManagePy) -> None:
    require_server("ONESTEP_TEST_REDIS_URL")
    require_module("redis")
    name = new_queue_name("redis")
    queue = broker_queue("redis", name)
    with transaction.atomic():
        ids = {queue.send({"n": n}, outbox=True) for n in range(3)}
    worker = manage.start(
        "onestep_worker", "tests.acceptance.outbox_worker_app:app", env={"OUTBOX_STREAM": name}
    )
    try:
        wait_until(lambda: Run.objects.filter(task="outbox").count() == 3, 60, "the three jobs ran")
    finally:
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()
    assert set(Run.objects.values_list("label", flat=True)) == ids
    assert not OutboxMessage.objects.exists()
