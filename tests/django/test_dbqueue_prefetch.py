"""DatabaseQueue claim prefetch: a claim takes a whole batch and keeps what the runner
had no room for, for a bounded time (on every database of the run)."""

from __future__ import annotations

import asyncio
import collections

import pytest
from django.db import OperationalError

from django_onestep.core.errors import ConfigurationError, ConnectorOperationError
from django_onestep.dbqueue import maintenance
from django_onestep.dbqueue.queue import DatabaseQueue
from tests.django.dbqueue_helpers import job_rows, opened, orm, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


def make_queue(**options: object) -> DatabaseQueue:
    options.setdefault("fetch_wait_s", 0.05)
    return DatabaseQueue(unique_name(), **options)  # type: ignore[arg-type]


async def statuses(queue: DatabaseQueue) -> dict[tuple[str, int], int]:
    rows = await orm(job_rows)(queue.name)
    return dict(collections.Counter((r["status"], r["attempts"]) for r in rows))


async def wait_for_statuses(queue: DatabaseQueue, expected: dict[tuple[str, int], int]) -> None:
    for _ in range(200):
        if await statuses(queue) == expected:
            return
        await asyncio.sleep(0.025)
    assert await statuses(queue) == expected


async def test_one_claim_serves_several_fetches() -> None:
    queue = make_queue(batch_size=10, prefetch_hold_s=30)
    await orm(queue.send_many)([{"n": n} for n in range(10)])
    async with opened(queue):
        first = await queue.fetch(2)
        # the whole batch was claimed in one statement: 2 handed out, 8 kept
        assert await statuses(queue) == {("running", 1): 10}
        assert {d.token for d in first} == {first[0].token}
        rest = [d for _ in range(4) for d in await queue.fetch(2)]
        assert [d.payload["n"] for d in first + rest] == list(range(10))
        assert {d.token for d in rest} == {first[0].token}  # no second claim
        for delivery in first + rest:
            await delivery.ack()
    assert await statuses(queue) == {("done", 1): 10}


async def test_kept_jobs_are_given_back_after_the_hold_and_the_next_claim_keeps_fewer() -> None:
    queue = make_queue(batch_size=10, prefetch=8, prefetch_hold_s=0.2)
    await orm(queue.send_many)([{"n": n} for n in range(10)])
    async with opened(queue):
        running = await queue.fetch(2)
        # a slow handler: nothing fetches for longer than the hold, so the 8 go back uncounted
        await wait_for_statuses(queue, {("running", 1): 2, ("queued", 0): 8})
        for delivery in running:
            await delivery.ack()
        again = await queue.fetch(2)
        # the target halved: this claim kept 4 instead of 8
        assert await statuses(queue) == {("done", 1): 2, ("running", 1): 6, ("queued", 0): 2}
        assert [d.payload["n"] for d in again] == [2, 3]


async def test_close_gives_back_the_kept_jobs() -> None:
    queue = make_queue(batch_size=10, prefetch_hold_s=30)
    await orm(queue.send_many)([{"n": n} for n in range(10)])
    async with opened(queue):
        running = await queue.fetch(3)
        for delivery in running:
            await delivery.start_processing()
            await delivery.ack()
    rows = await orm(job_rows)(queue.name)
    kept = [(r["status"], r["attempts"], r["lease_owner"], r["claim_token"]) for r in rows[3:]]
    assert [r["status"] for r in rows[:3]] == ["done"] * 3
    assert kept == [("queued", 0, None, None)] * 7


async def test_jobs_taken_from_the_kept_ones_stay_kept_when_the_fetch_then_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = make_queue(batch_size=10, prefetch_hold_s=30, lease_s=1)
    await orm(queue.send_many)([{"n": n} for n in range(10)])
    async with opened(queue):
        first = await queue.fetch(2)  # one claim of 10: 8 kept
        assert [d.payload["n"] for d in first] == [0, 1]

        def deadlocked(*args: object) -> None:
            raise OperationalError("(1213, 'Deadlock found when trying to get lock') (injected)")

        with monkeypatch.context() as patch:
            patch.setattr(maintenance, "reclaim_expired", deadlocked)
            await asyncio.sleep(0.3)  # the lease sweep is due: the next fetch runs it after taking the 8
            with pytest.raises(ConnectorOperationError, match="Deadlock"):
                await queue.fetch(10)
        again = await queue.fetch(10)
        assert [d.payload["n"] for d in again] == list(range(2, 10))
        for delivery in first + again:
            await delivery.ack()
    assert await statuses(queue) == {("done", 1): 10}


async def test_prefetch_zero_claims_only_what_the_runner_asks_for() -> None:
    queue = make_queue(batch_size=10, prefetch=0)
    await orm(queue.send_many)([{"n": n} for n in range(10)])
    async with opened(queue):
        await queue.fetch(2)
        assert await statuses(queue) == {("running", 1): 2, ("queued", 0): 8}


def test_prefetch_must_be_a_whole_number() -> None:
    with pytest.raises(ConfigurationError, match="prefetch"):
        DatabaseQueue("q", prefetch=-1)
    with pytest.raises(ConfigurationError, match="prefetch_hold_s"):
        DatabaseQueue("q", prefetch_hold_s=0)
