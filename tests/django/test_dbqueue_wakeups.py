"""PostgreSQL wake-ups: an enqueue NOTIFYs on commit only; an idle queue wakes on it.

PostgreSQL only (the other databases have no LISTEN/NOTIFY; their queues poll). The
"other process" is a second connection of this process that does not go through the
in-process wake-up, which is all another process can do too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from django_onestep.dbqueue.enqueue import CHANNEL
from django_onestep.dbqueue.queue import DatabaseQueue
from tests.django.dbqueue_helpers import opened, orm, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listening() -> Iterator[Any]:
    """A second connection that LISTENs on the wake-up channel."""
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY wake-ups are PostgreSQL's; other databases poll")
    from django_onestep.dbqueue.wakeups import _connect

    conn = _connect(connection.alias)
    conn.execute(f"LISTEN {CHANNEL}")
    yield conn
    conn.close()


def heard(conn: Any, timeout_s: float = 0.5) -> list[str]:
    return [n.payload for n in conn.notifies(timeout=timeout_s, stop_after=1)]


def test_an_enqueue_notifies_only_when_its_transaction_commits(listening: Any) -> None:
    queue = DatabaseQueue(unique_name())
    with transaction.atomic():
        queue.send({"n": 1})
        assert heard(listening) == []  # not before the commit
    assert heard(listening) == [queue.name]
    try:
        with transaction.atomic():
            queue.send_many([{"n": 2}, {"n": 3}])
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert heard(listening) == []  # a rolled-back enqueue wakes nobody


async def test_an_idle_queue_claims_at_once_when_another_connection_enqueues(
    listening: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_onestep.dbqueue import enqueue

    # the enqueue below wakes no queue of this process directly, as another process's wouldn't
    monkeypatch.setattr(enqueue, "notify_enqueued", lambda queue_name, using: None)
    # idle polls 10 s apart: only the notification can explain a fetch within a second
    queue = DatabaseQueue(unique_name(), poll_interval_s=10, max_idle_poll_s=10, fetch_wait_s=30)
    async with opened(queue):
        await asyncio.sleep(0.3)  # the listener's LISTEN is in place
        first = asyncio.ensure_future(queue.fetch(1))
        await asyncio.sleep(0.2)  # the fetch found nothing and sleeps its idle poll
        assert not first.done()
        started = time.monotonic()
        await orm(DatabaseQueue(queue.name).send)({"from": "elsewhere"})
        (delivery,) = await asyncio.wait_for(first, 5)
        assert time.monotonic() - started < 1.0
        assert delivery.payload == {"from": "elsewhere"}
        await delivery.ack()


def test_a_listener_stops_at_once_while_it_waits_for_notifications(listening: Any) -> None:
    from django_onestep.dbqueue.wakeups import PostgresListener

    listener = PostgresListener(connection.alias)
    listener.start()
    time.sleep(0.3)  # connected, LISTENing, waiting
    started = time.monotonic()
    listener.stop()
    assert not listener._thread.is_alive()
    assert time.monotonic() - started < 0.3  # a queue's close() does not wait out a timeout
