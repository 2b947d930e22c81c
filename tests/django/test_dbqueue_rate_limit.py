"""DatabaseQueue(rate_limit=...): a window of claims in the database, shared by every
queue object (so every worker) of the same name (on every database of the run)."""

from __future__ import annotations

import asyncio
import collections
import json
import time

import pytest

from django_onestep.celery.celery_options import parse_task_options
from django_onestep.core.errors import ConfigurationError
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.dbqueue.rate_limit import RateLimit, parse_rate_limit
from tests.django.dbqueue_helpers import job_rows, opened, orm, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


def statuses(queue_name: str) -> dict[tuple[str, int], int]:
    return dict(collections.Counter((r["status"], r["attempts"]) for r in job_rows(queue_name)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("60/m", RateLimit(60, 60.0)), ("10/s", RateLimit(10, 1.0)), ("100/h", RateLimit(100, 3600.0)),
     ("20/10s", RateLimit(20, 10.0)), (None, None)],
)  # fmt: skip
def test_rate_limit_spellings(value: str | None, expected: RateLimit | None) -> None:
    assert parse_rate_limit("rate_limit", value) == expected


@pytest.mark.parametrize("value", ["60", "0/m", "10/d", "x/s", "10/0s", 60, "-1/s"])
def test_a_bad_rate_limit_names_the_option(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^DatabaseQueue rate_limit: must be like '60/m'"):
        DatabaseQueue("q", rate_limit=value)  # type: ignore[arg-type]


def test_celery_rate_limit_maps_to_the_queue_window() -> None:
    assert parse_task_options("t", {"rate_limit": "6/5s"}).rate_limit == RateLimit(6, 5.0)
    with pytest.raises(ConfigurationError, match=r"^t rate_limit: must be like"):
        parse_task_options("t", {"rate_limit": "fast"})


async def test_jobs_over_the_limit_stay_queued_uncounted_across_queue_objects() -> None:
    name = unique_name()
    # two queue objects of one name stand for two workers: the window is shared
    first = DatabaseQueue(name, rate_limit="3/h", fetch_wait_s=0.05, batch_size=10, prefetch=0)
    second = DatabaseQueue(name, rate_limit="3/h", fetch_wait_s=0.05, batch_size=10, prefetch=0)
    await orm(first.send_many)([{"n": n} for n in range(5)])
    async with opened(first, second):
        taken = await first.fetch(2)
        taken += await second.fetch(10)
        assert len(taken) == 3
        assert await second.fetch(10) == []
        assert await first.fetch(10) == []
        for delivery in taken:
            await delivery.ack()
    assert await orm(statuses)(name) == {("done", 1): 3, ("queued", 0): 2}


async def test_the_window_slides_and_admits_the_rest() -> None:
    queue = DatabaseQueue(unique_name(), rate_limit="2/1s", fetch_wait_s=0.05, prefetch=0)
    await orm(queue.send_many)([{"n": n} for n in range(4)])
    loop = asyncio.get_running_loop()
    async with opened(queue):
        got = await queue.fetch(10)
        assert len(got) == 2
        started = loop.time()
        while len(got) < 4:
            assert loop.time() - started < 10, "the window never freed"
            got += await queue.fetch(10)
        assert loop.time() - started >= 0.5  # the second pair waited for the window
        for delivery in got:
            await delivery.ack()
    assert sorted(d.payload["n"] for d in got) == [0, 1, 2, 3]


async def test_prefetched_jobs_count_against_the_window() -> None:
    queue = DatabaseQueue(
        unique_name(), rate_limit="4/h", fetch_wait_s=0.05, batch_size=10, prefetch_hold_s=30
    )
    await orm(queue.send_many)([{"n": n} for n in range(8)])
    async with opened(queue):
        first = await queue.fetch(1)  # claims 4 (the allowance), keeps 3 ahead
        rest = [d for _ in range(3) for d in await queue.fetch(1)]
        assert len(first + rest) == 4
        assert await queue.fetch(1) == []
        for delivery in first + rest:
            await delivery.ack()
    assert await orm(statuses)(queue.name) == {("done", 1): 4, ("queued", 0): 4}


def window_pairs(queue_name: str) -> list[list[float]]:
    from django_onestep.models import QueueFlow

    return json.loads(QueueFlow.objects.get(queue=queue_name).claims)


async def test_close_claims_share_one_pair_of_the_window() -> None:
    queue = DatabaseQueue(unique_name(), rate_limit="1000/h", fetch_wait_s=0.05, prefetch=0)
    await orm(queue.send_many)(list(range(5)))
    async with opened(queue):
        for _ in range(5):
            for delivery in await queue.fetch(1):
                await delivery.ack()
    # five claims within 1/50 of the hour: one pair, counted in full, timed at the last
    [(at, count)] = await orm(window_pairs)(queue.name)
    assert count == 5 and at <= time.time()
    assert await orm(statuses)(queue.name) == {("done", 1): 5}


async def test_an_unlimited_queue_is_not_limited_by_a_neighbour() -> None:
    limited = DatabaseQueue(unique_name(), rate_limit="1/h", fetch_wait_s=0.05)
    free = DatabaseQueue(unique_name(), fetch_wait_s=0.05)
    await orm(limited.send_many)([1, 2])
    await orm(free.send_many)([1, 2, 3])
    async with opened(limited, free):
        assert len(await limited.fetch(10)) == 1
        assert len(await free.fetch(10)) == 3


def keyed(**options: object) -> DatabaseQueue:
    options.setdefault("fetch_wait_s", 0.05)
    options.setdefault("prefetch", 0)
    return DatabaseQueue(unique_name(), concurrency_key=lambda p: p["customer"], **options)  # type: ignore[arg-type]


def keys_of(queue_name: str) -> list[str | None]:
    return [r["concurrency_key"] for r in job_rows(queue_name)]


async def test_the_key_is_stored_at_enqueue() -> None:
    queue = keyed()
    await orm(DatabaseQueue(queue.name).send)({"customer": 7})  # a plain object of that name too
    await orm(queue.send_many)([{"customer": "a"}, {"customer": None}])
    assert await orm(keys_of)(queue.name) == ["7", "a", None]


async def test_a_blocked_key_at_the_head_does_not_wedge_the_other_keys() -> None:
    queue = keyed(batch_size=10)
    # twenty jobs of customer a first, then one each of b and c
    await orm(queue.send_many)(
        [{"customer": "a", "n": n} for n in range(20)] + [{"customer": "b"}, {"customer": "c"}]
    )
    # a second queue object of the same name stands for a second worker
    other = DatabaseQueue(queue.name, concurrency_key=lambda p: p["customer"], fetch_wait_s=0.05, prefetch=0)
    async with opened(queue, other):
        first = await queue.fetch(1)
        assert [d.payload for d in first] == [{"customer": "a", "n": 0}]
        rest = await other.fetch(10)  # a is running: only b and c, not the 19 jobs of a ahead of them
        assert sorted(d.payload["customer"] for d in rest) == ["b", "c"]
        assert await queue.fetch(10) == []
        await first[0].ack()
        after = await other.fetch(10)
        assert [d.payload for d in after] == [{"customer": "a", "n": 1}]
        for delivery in rest + after:
            await delivery.ack()
    assert await orm(statuses)(queue.name) == {("done", 1): 4, ("queued", 0): 18}


async def test_max_per_key_admits_that_many_per_key_in_one_claim() -> None:
    queue = keyed(max_per_key=2, batch_size=10)
    await orm(queue.send_many)([{"customer": "a"}] * 5 + [{"customer": "b"}] * 5)
    async with opened(queue):
        got = await queue.fetch(10)
        assert sorted(d.payload["customer"] for d in got) == ["a", "a", "b", "b"]
        for delivery in got:
            await delivery.ack()


async def test_rate_limit_and_key_together() -> None:
    queue = keyed(rate_limit="2/h", batch_size=10)
    await orm(queue.send_many)([{"customer": c} for c in "aabc"])
    async with opened(queue):
        got = await queue.fetch(10)
        assert [d.payload["customer"] for d in got] == ["a", "b"]
        assert await queue.fetch(10) == []
        for delivery in got:
            await delivery.ack()
    assert await orm(statuses)(queue.name) == {("done", 1): 2, ("queued", 0): 2}


def test_bad_key_options_name_the_option() -> None:
    with pytest.raises(
        ConfigurationError, match=r"^DatabaseQueue\('q'\) max_per_key: needs concurrency_key="
    ):
        DatabaseQueue("q", max_per_key=1)
    with pytest.raises(
        ConfigurationError, match=r"^DatabaseQueue\('q'\) concurrency_key: must be a function"
    ):
        DatabaseQueue("q", concurrency_key="customer_id")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"^DatabaseQueue\('q'\) max_per_key: must be >= 1, got 0"):
        DatabaseQueue("q", concurrency_key=lambda p: p, max_per_key=0)
