"""DatabaseQueue through its Source/Sink/Delivery API, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.models import Job
from tests.django.dbqueue_helpers import fetch_until, job_rows, opened, orm, run_in_threads, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


def make_queue(name: str | None = None, **options: object) -> DatabaseQueue:
    options.setdefault("fetch_wait_s", 0.05)
    return DatabaseQueue(name or unique_name(), **options)  # type: ignore[arg-type]


async def test_send_fetch_ack_roundtrip() -> None:
    queue = make_queue()
    ids = [await orm(queue.send)({"n": n}, meta={"m": n}) for n in range(3)]
    async with opened(queue):
        deliveries = await fetch_until(queue, 3)
        assert [d.payload for d in deliveries] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert [d.envelope.meta for d in deliveries] == [{"m": 0}, {"m": 1}, {"m": 2}]
        assert [d.envelope.attempts for d in deliveries] == [0, 0, 0]
        assert [d.job_id for d in deliveries] == ids
        rows = await orm(job_rows)(queue.name)
        assert [r["status"] for r in rows] == ["running"] * 3
        assert [r["attempts"] for r in rows] == [1, 1, 1]
        assert all(r["lease_owner"] == queue.worker_id for r in rows)
        for delivery in deliveries:
            await delivery.ack()
        assert [d.settled for d in deliveries] == [True, True, True]
        assert await queue.fetch(10) == []
    rows = await orm(job_rows)(queue.name)
    assert [r["status"] for r in rows] == ["done"] * 3
    assert all(r["claim_token"] is None and r["finished_at"] is not None for r in rows)


async def test_fetch_respects_limit_and_batch_size() -> None:
    queue = make_queue(batch_size=2)
    await orm(queue.send_many)([{"n": n} for n in range(5)])
    async with opened(queue):
        assert len(await queue.fetch(1)) == 1
        assert len(await queue.fetch(10)) == 2  # capped by batch_size


async def test_priority_higher_first_then_fifo() -> None:
    queue = make_queue()
    await orm(queue.send)("low-1", priority=0)
    await orm(queue.send)("high", priority=5)
    await orm(queue.send)("low-2", priority=0)
    await orm(queue.send)("neg", priority=-1)
    async with opened(queue):
        got = [d.payload for d in await fetch_until(queue, 4)]
    assert got == ["high", "low-1", "low-2", "neg"]


async def test_delayed_jobs_wait_for_available_at() -> None:
    queue = make_queue()
    await orm(queue.send)("later", delay_s=3600)
    await orm(queue.send)("at", run_at=timezone.now() + timedelta(hours=1))
    await orm(queue.send)("now")
    async with opened(queue):
        assert [d.payload for d in await fetch_until(queue, 1)] == ["now"]
        assert await queue.fetch(10) == []
    await orm(Job.objects.filter(queue=queue.name, status="queued").update)(
        available_at=timezone.now() - timedelta(seconds=1)
    )
    async with opened(queue):
        assert sorted(d.payload for d in await fetch_until(queue, 2)) == ["at", "later"]


async def test_dedupe_key_returns_existing_job_while_live() -> None:
    queue = make_queue()
    first = await orm(queue.send)({"a": 1}, dedupe_key="order-7")
    second = await orm(queue.send)({"a": 2}, dedupe_key="order-7")
    assert second == first
    assert [r["payload"] for r in await orm(job_rows)(queue.name)] == [{"a": 1}]
    async with opened(queue):
        (delivery,) = await fetch_until(queue, 1)
        # still running: a duplicate is still a no-op
        assert await orm(queue.send)({"a": 3}, dedupe_key="order-7") == first
        await delivery.ack()
    third = await orm(queue.send)({"a": 4}, dedupe_key="order-7")
    assert third != first
    rows = await orm(job_rows)(queue.name)
    assert [(r["status"], r["dedupe_key"]) for r in rows] == [("done", None), ("queued", "order-7")]


async def test_acks_settled_together_clear_the_dedupe_key_of_the_jobs_that_have_one() -> None:
    queue = make_queue()
    keyed = await orm(queue.send)({"a": 1}, dedupe_key="order-8")
    await orm(queue.send)({"a": 2})
    async with opened(queue):
        deliveries = await fetch_until(queue, 2)
        await asyncio.gather(*(delivery.ack() for delivery in deliveries))  # one settle batch
    rows = await orm(job_rows)(queue.name)
    assert [(r["status"], r["dedupe_key"]) for r in rows] == [("done", None), ("done", None)]
    assert await orm(queue.send)({"a": 3}, dedupe_key="order-8") != keyed


def test_enqueue_follows_the_callers_transaction() -> None:
    queue = make_queue()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        queue.send({"rolled": "back"})
        raise Boom
    assert job_rows(queue.name) == []
    with transaction.atomic():
        job_id = queue.send({"committed": True})
    rows = job_rows(queue.name)
    assert [(r["id"], r["payload"]) for r in rows] == [(job_id, {"committed": True})]


async def test_retry_counts_attempts_and_delays() -> None:
    queue = make_queue()
    await orm(queue.send)("x")
    async with opened(queue):
        (first,) = await fetch_until(queue, 1)
        assert first.envelope.attempts == 0
        await first.retry(delay_s=0)
        (second,) = await fetch_until(queue, 1)
        assert second.envelope.attempts == 1
        await second.retry(delay_s=3600)
        assert await queue.fetch(1) == []
    (row,) = await orm(job_rows)(queue.name)
    assert (row["status"], row["attempts"]) == ("queued", 2)
    assert row["available_at"] > timezone.now() + timedelta(seconds=3500)
    assert row["first_failed_at"] is not None


async def test_fail_marks_failed_with_error() -> None:
    queue = make_queue()
    await orm(queue.send)("x")
    async with opened(queue):
        (delivery,) = await fetch_until(queue, 1)
        await delivery.fail(RuntimeError("broken pipe"))
    (row,) = await orm(job_rows)(queue.name)
    assert row["status"] == "failed"
    assert row["last_error"] == "RuntimeError: broken pipe"


async def test_late_ack_after_lost_lease_changes_nothing() -> None:
    name = unique_name()
    await orm(DatabaseQueue(name).send)("x")
    slow = make_queue(name, lease_s=0.3)
    other = make_queue(name, lease_s=30)
    async with opened(slow, other):
        (stale,) = await fetch_until(slow, 1)
        for task in slow._background:
            task.cancel()  # the slow worker stalls: no lease renewal reaches the DB
        await asyncio.gather(*slow._background, return_exceptions=True)
        await asyncio.sleep(0.5)
        # the other worker's fetch reclaims the expired lease and claims the job
        (fresh,) = await fetch_until(other, 1)
        assert fresh.job_id == stale.job_id and fresh.token != stale.token
        assert fresh.envelope.attempts == 1
        await stale.ack()
        assert stale.settled is False
        (row,) = await orm(job_rows)(name)
        assert (row["status"], row["claim_token"], row["lease_owner"]) == (
            "running",
            fresh.token,
            other.worker_id,
        )
        await stale.retry()
        await stale.fail(RuntimeError("late"))
        (row,) = await orm(job_rows)(name)
        assert (row["status"], row["attempts"], row["reclaims"]) == ("running", 2, 1)
        await fresh.ack()
        assert fresh.settled is True
    (row,) = await orm(job_rows)(name)
    assert row["status"] == "done"


async def test_heartbeat_extends_leases_of_running_jobs() -> None:
    name = unique_name()
    await orm(DatabaseQueue(name).send)("long")
    holder = make_queue(name, lease_s=1.5)
    thief = make_queue(name)
    async with opened(holder, thief):
        (delivery,) = await fetch_until(holder, 1)
        await delivery.start_processing()
        # three lease lengths later the job is still ours: leases were renewed
        for _ in range(9):
            await asyncio.sleep(0.5)
            assert await thief.fetch(1) == []
        (row,) = await orm(job_rows)(name)
        assert (row["status"], row["claim_token"], row["reclaims"]) == ("running", delivery.token, 0)
        assert row["lease_until"] > timezone.now()
        await delivery.ack()
        assert delivery.settled is True


async def abandon(queue: DatabaseQueue) -> None:
    """Simulate a worker that died: no lease renewal, no release, connections gone."""
    for task in queue._background:
        task.cancel()
    await asyncio.gather(*queue._background, return_exceptions=True)
    queue._held.clear()
    await queue._release_threads()


async def test_expired_lease_is_reclaimed_and_poisoned_after_max_deliveries() -> None:
    name = unique_name()
    await orm(DatabaseQueue(name).send)("killer")
    for expected_reclaims in range(3):
        # a worker claims the job and dies without settling it
        dying = make_queue(name, lease_s=0.2, max_deliveries=2)
        (delivery,) = await fetch_until(dying, 1)
        assert delivery.reclaims == expected_reclaims
        if expected_reclaims < 2:
            assert delivery.poison_reason is None
        else:
            assert delivery.poison_reason is not None
            assert "died 2 times" in delivery.poison_reason
        await abandon(dying)
        await asyncio.sleep(0.3)
    (row,) = await orm(job_rows)(name)
    assert row["attempts"] == 3


async def test_release_unstarted_gives_the_attempt_back() -> None:
    queue = make_queue()
    await orm(queue.send)("a")
    await orm(queue.send)("b")
    async with opened(queue):
        first, second = await fetch_until(queue, 2)
        await first.start_processing()
        await first.release_unstarted()  # started: nothing happens
        await second.release_unstarted()
        assert (first.settled, second.settled) == (None, True)
        rows = await orm(job_rows)(queue.name)
        assert [(r["status"], r["attempts"]) for r in rows] == [("running", 1), ("queued", 0)]
        await first.ack()


async def test_close_releases_claimed_but_unstarted_jobs() -> None:
    queue = make_queue()
    await orm(queue.send_many)(["a", "b", "c"])
    async with opened(queue):
        deliveries = await fetch_until(queue, 3)
        await deliveries[0].start_processing()
        await deliveries[0].ack()
        await deliveries[1].start_processing()  # started, unsettled: left to the lease
    rows = await orm(job_rows)(queue.name)
    assert [(r["status"], r["attempts"]) for r in rows] == [("done", 1), ("running", 1), ("queued", 0)]


async def test_publish_and_send_envelope_keep_meta_and_attempts() -> None:
    queue = make_queue()
    async with opened(queue):
        job_id = await queue.publish({"p": 1}, meta={"k": "v"}, attempts=2, priority=3)
        result = queue.send(Envelope(body={"p": 2}, meta={"k": "w"}, attempts=1))
        assert asyncio.iscoroutine(result)
        second_id = await result
        assert second_id > job_id
        deliveries = await fetch_until(queue, 2)
        assert [(d.payload, d.envelope.meta, d.envelope.attempts) for d in deliveries] == [
            ({"p": 1}, {"k": "v"}, 2),
            ({"p": 2}, {"k": "w"}, 1),
        ]
        for delivery in deliveries:
            await delivery.ack()


async def test_local_enqueue_wakes_an_idle_fetch() -> None:
    queue = make_queue(fetch_wait_s=60.0, poll_interval_s=60.0, max_idle_poll_s=60.0)
    async with opened(queue):
        fetch = asyncio.create_task(queue.fetch(1))
        await asyncio.sleep(0.3)
        assert not fetch.done()
        started = asyncio.get_running_loop().time()
        await orm(queue.send)("wake up")
        (delivery,) = await asyncio.wait_for(fetch, 25)
        # the next poll is 60 s away: only the on_commit wake-up delivers it this early
        assert asyncio.get_running_loop().time() - started < 25
        assert delivery.payload == "wake up"
        await delivery.ack()


async def test_an_empty_fetch_returns_after_one_poll_interval_not_fetch_wait_s() -> None:
    # `--once` / run_until_idle learn that the queue is empty from an empty fetch: it
    # must come after one poll, not after the fetch's whole 60 s budget
    queue = make_queue(fetch_wait_s=60.0, poll_interval_s=0.05, idle_backoff_after_s=60.0)
    async with opened(queue):
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.wait_for(queue.fetch(1), 30) == []
        assert loop.time() - started < 30
        probes: list[bool] = []
        real_claim = queue._claim

        async def counting_claim(*args: object, **kwargs: object) -> list[object]:
            probes.append(True)
            return await real_claim(*args, **kwargs)  # type: ignore[arg-type]

        queue._claim = counting_claim  # type: ignore[method-assign]
        assert await queue.fetch(1) == []
        assert len(probes) == 1  # one probe and one wait per empty fetch: no busy loop


async def test_the_last_settlement_wakes_a_backed_off_fetch() -> None:
    queue = make_queue(
        fetch_wait_s=60.0, poll_interval_s=60.0, max_idle_poll_s=60.0, idle_backoff_after_s=0.0
    )
    await orm(queue.send)("slow")
    async with opened(queue):
        (delivery,) = await fetch_until(queue, 1)
        queue._idle_since = asyncio.get_running_loop().time() - 1.0  # backed off, as after a long handler
        fetch = asyncio.create_task(queue.fetch(1))
        await asyncio.sleep(0.3)
        assert not fetch.done()  # waiting for the next (60 s) poll
        await delivery.ack()
        # without the wake-up the fetch would sleep out its 60 s poll interval
        assert await asyncio.wait_for(fetch, 25) == []


async def test_prune_deletes_only_old_done_rows() -> None:
    queue = make_queue(done_retention_s=3600)
    await orm(queue.send_many)(["old", "new", "waiting"])
    async with opened(queue):
        deliveries = await fetch_until(queue, 2)
        for delivery in deliveries:
            await delivery.ack()
    old_id = deliveries[0].job_id
    await orm(Job.objects.filter(id=old_id).update)(finished_at=timezone.now() - timedelta(hours=2))
    assert await orm(queue.prune_sync)(batch_size=1) == 1
    assert [r["payload"] for r in await orm(job_rows)(queue.name)] == ["new", "waiting"]


async def test_two_queues_never_claim_the_same_job() -> None:
    name = unique_name()
    await orm(DatabaseQueue(name).send_many)([{"n": n} for n in range(300)])
    first = make_queue(name, batch_size=7)
    second = make_queue(name, batch_size=11)
    seen: list[int] = []

    async def drain(queue: DatabaseQueue) -> None:
        while True:
            deliveries = await queue.fetch(20)
            if not deliveries:
                return
            seen.extend(d.job_id for d in deliveries)
            await asyncio.gather(*(d.ack() for d in deliveries))

    async with opened(first, second):
        await asyncio.gather(drain(first), drain(second))
    assert len(seen) == 300
    assert len(set(seen)) == 300
    rows = await orm(job_rows)(name)
    assert {r["status"] for r in rows} == {"done"}


def test_bad_arguments_name_the_problem() -> None:
    with pytest.raises(ConfigurationError, match=r"^DatabaseQueue lease_s: must be > 0, got -1$"):
        DatabaseQueue("q", lease_s=-1)
    # NaN passed the old "<= 0" test; a fractional batch was truncated silently
    with pytest.raises(
        ConfigurationError, match=r"^DatabaseQueue lease_s: must be a finite number, got nan$"
    ):
        DatabaseQueue("q", lease_s=float("nan"))
    with pytest.raises(ConfigurationError, match=r"^DatabaseQueue batch_size: must be an integer, got 2\.5$"):
        DatabaseQueue("q", batch_size=2.5)
    with pytest.raises(
        ConfigurationError, match=r"^DatabaseQueue max_deliveries: must be an integer or None, got 1\.5$"
    ):
        DatabaseQueue("q", max_deliveries=1.5)
    with pytest.raises(ConfigurationError, match="name must be a string"):
        DatabaseQueue("")
    queue = make_queue()
    with pytest.raises(ValueError, match=r"payload must be JSON serializable"):
        queue.send({"when": timezone.now()})
    with pytest.raises(ValueError, match=r"^delay_s: must be >= 0, got -5$"):
        queue.send("x", delay_s=-5)
    with pytest.raises(ValueError, match="pass delay_s or run_at, not both"):
        queue.send("x", delay_s=1, run_at=timezone.now())
    # these used to fail deep inside (insert_job()'s TypeError, int(nan), the database)
    name = repr(queue.name)
    with pytest.raises(TypeError) as info:
        queue.send("x", delay=5)
    assert str(info.value) == (
        f"DatabaseQueue({name}).send(): unknown option 'delay' "
        "(options: delay_s, run_at, priority, dedupe_key, meta, expires_s, expires_at)"
    )
    with pytest.raises(TypeError, match=r"\.enqueue\(\): unknown option 'prio'"):
        queue.enqueue("x", prio=1)
    for bad, problem in (
        (float("nan"), "must be a finite number, got nan"),
        (float("inf"), "must be a finite number, got inf"),
        ("5", "must be a number, got '5'"),
    ):
        with pytest.raises(ValueError) as info:
            queue.send("x", delay_s=bad)
        assert str(info.value) == f"delay_s: {problem}"
    with pytest.raises(
        ValueError, match=r"^priority: must be between -2147483648 and 2147483647, got 1000000000000$"
    ):
        queue.send("x", priority=10**12)
    with pytest.raises(ValueError, match=r"meta must be a dict, got list"):
        queue.send("x", meta=[1])
    with pytest.raises(ValueError, match=r"run_at must be an aware datetime, got '2030-01-01'"):
        queue.send("x", run_at="2030-01-01")
    assert job_rows(queue.name) == []


async def test_queues_share_one_claim_and_one_write_thread_per_database() -> None:
    from django.db import connection

    from django_onestep.orm import dbthread

    def users(role: str) -> int:
        entry = dbthread._registry.get(("default", role))
        return entry[1] if entry is not None else 0

    # a store or writer of an earlier test in this process may still hold the thread:
    # count references instead of assuming these queues are its only users
    before = {role: users(role) for role in ("claim", "write")}
    first, second = make_queue(), make_queue()
    async with opened(first, second):
        assert first._claim_thread is second._claim_thread
        assert first._ack_thread is second._ack_thread
        if connection.vendor == "sqlite":
            assert first._claim_thread is first._ack_thread  # one writer, one connection
            assert users("write") == before["write"] + 4
        else:
            assert first._claim_thread is not first._ack_thread
            assert (users("claim"), users("write")) == (before["claim"] + 2, before["write"] + 2)
        shared = first._ack_thread
    assert {role: users(role) for role in ("claim", "write")} == before  # every reference given back
    assert shared is not None
    assert shared.closed == (before["write"] == 0)  # the last user closes it


async def test_sync_send_in_async_code_says_what_to_use() -> None:
    queue = make_queue()
    with pytest.raises(TypeError, match=r"in async code use 'await queue.publish"):
        queue.send({"x": 1})
    with pytest.raises(TypeError, match=r"DatabaseQueue.send_many\(\) is synchronous"):
        queue.send_many([1])
    assert await orm(job_rows)(queue.name) == []


def _dead_letter_envelope(payload: object) -> Envelope:
    failure = {"kind": "error", "exception_type": "KeyError", "message": "'sku'", "traceback": "tb"}
    return Envelope(
        body={"payload": payload, "failure": failure},
        meta={"app": "a", "task": "t", "source": "q", "original_meta": {}, "original_attempts": 0},
    )


async def test_dead_letter_is_written_once_and_never_after_a_lost_lease() -> None:
    from django_onestep.models import DeadLetter
    from django_onestep.orm.dead_letters import DatabaseDeadLetters

    name = unique_name()
    await orm(DatabaseQueue(name).send_many)(["kept", "stolen"])
    sink = DatabaseDeadLetters(task="t")
    worker = make_queue(name, lease_s=0.3)
    other = make_queue(name)
    async with opened(worker, other):
        kept, stolen = await fetch_until(worker, 2)
        assert await kept.fail_to_dead_letter(sink, _dead_letter_envelope("kept")) is True
        assert await kept.fail_to_dead_letter(sink, _dead_letter_envelope("kept")) is True  # settled: no-op
        await abandon(worker)  # the worker stalls; its lease on "stolen" runs out
        await asyncio.sleep(0.4)
        (again,) = await fetch_until(other, 1)
        assert again.job_id == stolen.job_id
        worker._ensure_threads()
        assert await stolen.fail_to_dead_letter(sink, _dead_letter_envelope("stolen")) is True
        assert stolen.settled is False  # fenced out: nothing written
        await again.ack()
    await sink.close()
    rows = await orm(lambda: list(DeadLetter.objects.values_list("payload", "job_id", "exception_type")))()
    assert rows == [("kept", kept.job_id, "KeyError")]
    statuses = [(r["payload"], r["status"], r["last_error"]) for r in await orm(job_rows)(name)]
    assert statuses == [("kept", "dead", "KeyError: 'sku'"), ("stolen", "done", "")]


def test_concurrent_sends_with_one_dedupe_key_make_one_job() -> None:
    queue = make_queue()
    ids: list[int] = []

    errors = run_in_threads(lambda: ids.append(queue.send({"x": 1}, dedupe_key="same")), 8, timeout_s=60)
    assert errors == []
    assert len(set(ids)) == 1 and len(ids) == 8
    assert [r["id"] for r in job_rows(queue.name)] == ids[:1]
