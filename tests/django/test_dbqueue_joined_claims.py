"""On SQLite a claim asked for while settlements are being written joins their
transaction: settling batch N and claiming batch N+1 cost one commit."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.db import connection

from django_onestep.core.errors import ConnectorOperationError
from django_onestep.dbqueue import queue as queue_module
from django_onestep.dbqueue import settle
from django_onestep.dbqueue.queue import DatabaseQueue
from tests.django.dbqueue_helpers import job_rows, opened, orm, unique_name

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="claims share the writer's connection on SQLite only"
    ),
]


holding = threading.Event()  # the first transaction has begun and is held


def hold_the_first_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[threading.Event, list[tuple[int, int]]]:
    """Block the first settle transaction until ``release`` is set; record each
    transaction as (settlements, claims)."""
    release, transactions = threading.Event(), []
    holding.clear()
    real_flush = settle._flush_sync

    def flush(using: str, batch: list[Any], joined: list[Any] | None = None) -> list[bool]:
        transactions.append((len(batch), len(joined or ())))
        if len(transactions) == 1:
            holding.set()
            assert release.wait(10)
        return real_flush(using, batch, joined)

    monkeypatch.setattr(settle, "_flush_sync", flush)
    return release, transactions


async def settling_one_then_claiming(
    queue: DatabaseQueue, release: threading.Event, transactions: list[tuple[int, int]]
) -> tuple[asyncio.Task[Any], asyncio.Task[Any]]:
    """Ack one job (its transaction held), queue a second ack, ask for a claim."""
    first, second = await queue.fetch(2)
    held = asyncio.create_task(first.ack())
    assert await asyncio.to_thread(holding.wait, 10)
    waiting = asyncio.create_task(second.ack())
    claim = asyncio.create_task(queue.fetch(2))
    await asyncio.sleep(0.1)
    assert not claim.done()  # it waits for the transaction it joined
    release.set()
    await held
    return waiting, claim


async def test_a_claim_asked_for_during_a_settlement_joins_the_next_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release, transactions = hold_the_first_transaction(monkeypatch)
    queue = DatabaseQueue(unique_name(), batch_size=2, prefetch=0, fetch_wait_s=0.05)
    await orm(queue.send_many)(["a", "b", "c", "d"])
    async with opened(queue):
        waiting, claim = await settling_one_then_claiming(queue, release, transactions)
        claimed = await asyncio.wait_for(claim, 10)
        await waiting
        assert [d.payload for d in claimed] == ["c", "d"]
        for delivery in claimed:
            await delivery.ack()
    # the second ack and the claim shared one transaction; the last two acks another
    assert transactions[:2] == [(1, 0), (1, 1)]
    assert sum(joined for _, joined in transactions) == 1
    assert {row["payload"]: row["status"] for row in await orm(job_rows)(queue.name)} == dict.fromkeys(
        "abcd", "done"
    )


async def test_a_failing_joined_claim_fails_alone_and_the_settlements_still_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import OperationalError

    release, transactions = hold_the_first_transaction(monkeypatch)
    real_claim = queue_module.claim_rows

    def claim_rows(connection: Any, **kwargs: Any) -> Any:
        if len(transactions) > 1:  # the joined claim only
            raise OperationalError("disk I/O error")
        return real_claim(connection, **kwargs)

    monkeypatch.setattr(queue_module, "claim_rows", claim_rows)
    queue = DatabaseQueue(unique_name(), batch_size=2, prefetch=0, fetch_wait_s=0.05)
    await orm(queue.send_many)(["a", "b", "c"])
    async with opened(queue):
        waiting, claim = await settling_one_then_claiming(queue, release, transactions)
        with pytest.raises(ConnectorOperationError, match="disk I/O error"):
            await asyncio.wait_for(claim, 10)
        await waiting
    assert transactions[:2] == [(1, 0), (1, 1)]
    rows = {row["payload"]: (row["status"], row["attempts"]) for row in await orm(job_rows)(queue.name)}
    assert rows == {"a": ("done", 1), "b": ("done", 1), "c": ("queued", 0)}
