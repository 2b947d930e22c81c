"""Batch submissions in one process: submit, the source under the real runtime,
results in order, the failure budget, cancel and the fenced completion."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_onestep import Submission, SubmissionFailed, SubmissionSource, asubmit, submit
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.models import SubmissionChunk, SubmissionRecord
from django_onestep.submissions import chunk_rows
from django_onestep.submissions.reserve import reserve_chunk
from tests.django.dbqueue_helpers import orm, unique_name

pytestmark = pytest.mark.django_db(transaction=True)


def chunk_rows_of(submission: Submission) -> list[dict[str, Any]]:
    return list(SubmissionChunk.objects.filter(submission_id=submission.id).order_by("index").values())


def test_submit_streams_one_insert_per_chunk_and_counts_the_totals() -> None:
    queue = unique_name("sub")

    def items() -> Any:  # a generator: submit must not need len() or a list
        yield from range(2500)

    with CaptureQueriesContext(connection) as queries:
        submission = submit(queue, items(), chunk_size=1000, metadata={"tenant": "a"})
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT INTO")]
    assert sum("submissionchunk" in sql for sql in inserts) == 3
    assert [(c["index"], c["ops"], c["status"]) for c in chunk_rows_of(submission)] == [
        (0, 1000, "pending"),
        (1, 1000, "pending"),
        (2, 500, "pending"),
    ]
    record = submission.record()
    assert (record.chunks_total, record.ops_total, record.metadata, submission.status) == (
        3,
        2500,
        {"tenant": "a"},
        "running",
    )
    assert submission.progress.fraction == 0.0


def test_a_submission_rolled_back_with_the_callers_transaction_was_never_submitted() -> None:
    queue = unique_name("sub")
    with pytest.raises(RuntimeError), transaction.atomic():
        submit(queue, range(10), chunk_size=3)
        raise RuntimeError("the view failed")
    assert not SubmissionRecord.objects.filter(queue=queue).exists()
    assert not SubmissionChunk.objects.filter(queue=queue).exists()


async def test_asubmit_from_async_code() -> None:
    queue = unique_name("async")
    submission = await asubmit(SubmissionSource(queue), iter(range(5)), chunk_size=2)
    progress = await orm(lambda: submission.progress)()
    assert (progress.chunks_total, progress.ops_total) == (3, 5)
    assert await orm(lambda: Submission(submission.id).status)() == "running"


def test_submit_names_the_bad_option() -> None:
    with pytest.raises(ConfigurationError, match="chunk_size"):
        submit("q", [1], chunk_size=0)
    with pytest.raises(ConfigurationError, match="storage 'nowhere'"):
        submit("q", [1], storage="nowhere")
    with pytest.raises(ConfigurationError, match="SubmissionSource"):
        submit(object(), [1])
    with pytest.raises(ConfigurationError, match="per must be 'op' or 'chunk'"):
        SubmissionSource("q", per="row")
    with pytest.raises(ConfigurationError, match="strategy must be"):
        SubmissionSource("q", strategy="fifo")


async def test_one_op_per_call_results_in_input_order() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("double"), poll_interval_s=0.05)

    @app.task(source=source, concurrency=8)
    async def double(ctx: Any, n: int) -> int:
        return n * 2

    submission = await orm(submit)(double, range(250), chunk_size=100)
    await app.serve(until_idle=True)
    assert await orm(lambda: submission.status)() == "completed"
    progress = await orm(lambda: submission.progress)()
    assert (progress.chunks_done, progress.chunks_total, progress.ops_done, progress.ops_total) == (
        3,
        3,
        250,
        250,
    )
    assert await orm(lambda: list(submission.results()))() == [n * 2 for n in range(250)]
    assert await orm(lambda: submission.rate)() > 0
    assert await orm(lambda: submission.eta)() is None  # it ended
    assert await orm(lambda: submission.wait(timeout=1))() == "completed"
    assert await submission.aget() == "completed"


async def test_per_chunk_handler_gets_the_list_and_returns_the_results() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("square"), per="chunk", poll_interval_s=0.05)
    seen: list[int] = []

    @app.task(source=source)
    def squares(ctx: Any, ops: list[int]) -> list[int]:
        seen.append(len(ops))
        return [n * n for n in ops]

    submission = await orm(submit)(squares, range(25), chunk_size=10)
    await app.serve(until_idle=True)
    assert sorted(seen) == [5, 10, 10]
    assert await orm(lambda: list(submission.results()))() == [n * n for n in range(25)]


async def test_a_per_chunk_handler_returning_nothing_completes_with_no_results() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("effects"), per="chunk", poll_interval_s=0.05)

    @app.task(source=source)
    def touch(ctx: Any, ops: list[int]) -> None:
        return None

    submission = await orm(submit)(touch, range(3), chunk_size=2)
    await app.serve(until_idle=True)
    assert await orm(lambda: list(submission.results()))() == [None, None, None]


async def test_a_per_chunk_handler_returning_the_wrong_length_fails_the_attempt() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("short"), per="chunk", poll_interval_s=0.05)

    @app.task(source=source)
    def short(ctx: Any, ops: list[int]) -> list[int]:
        return ops[:1]

    submission = await orm(submit)(short, range(4), chunk_size=4, max_chunk_attempts=1)
    await app.serve(until_idle=True)
    with pytest.raises(SubmissionFailed, match="must return a list of 4 results"):
        await orm(submission.wait)(timeout=1)


async def test_a_chunk_out_of_attempts_fails_the_submission_and_skips_the_rest() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("budget"), poll_interval_s=0.05)
    runs: list[int] = []

    @app.task(source=source)
    async def picky(ctx: Any, n: int) -> int:
        runs.append(n)
        if n == 3:
            raise ValueError(f"cannot take {n}")
        return n

    submission = await orm(submit)(picky, range(10), chunk_size=2, max_chunk_attempts=3)
    await app.serve(until_idle=True)
    assert runs.count(3) == 3  # its chunk ran three times, then the budget was spent
    with pytest.raises(SubmissionFailed) as failed:
        await orm(submission.wait)(timeout=1)
    assert (failed.value.chunk_index, failed.value.exception_type) == (1, "ValueError")
    assert failed.value.message == "cannot take 3"
    chunks = await orm(chunk_rows_of)(submission)
    assert (chunks[1]["status"], chunks[1]["attempts"], chunks[1]["error"]) == (
        "failed",
        3,
        "ValueError: cannot take 3",
    )
    assert {c["status"] for c in chunks[2:]} <= {"skipped", "done"}
    assert "skipped" in {c["status"] for c in chunks[2:]}
    assert await orm(lambda: submission.status)() == "failed"


async def test_a_failed_op_stops_the_rest_of_its_chunk_from_running() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("doomed"), poll_interval_s=0.05)
    runs: list[int] = []

    @app.task(source=source)  # one at a time: the chunk's other ops wait in the source
    async def doomed(ctx: Any, n: int) -> int:
        runs.append(n)
        if n == 0:
            raise ValueError("the first op fails")
        return n

    submission = await orm(submit)(doomed, range(50), chunk_size=50, max_chunk_attempts=2)
    await app.serve(until_idle=True)
    assert runs == [0, 0]  # each attempt stopped at its failure, not 2 x 50 runs
    assert await orm(lambda: submission.status)() == "failed"


async def test_collect_errors_makes_a_failed_op_a_result() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("best-effort"), poll_interval_s=0.05)

    @app.task(source=source)
    async def invert(ctx: Any, n: int) -> float:
        return 1 / n

    submission = await orm(submit)(invert, [1, 0, 4], chunk_size=2, collect_errors=True)
    await app.serve(until_idle=True)
    assert await orm(lambda: list(submission.results()))() == [
        1.0,
        {"error": "ZeroDivisionError: division by zero"},
        0.25,
    ]


async def test_a_chunk_running_longer_than_its_lease_keeps_it_by_heartbeats() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("long"), per="chunk", lease_s=0.3, poll_interval_s=0.05)

    @app.task(source=source, concurrency=2)  # a free slot keeps fetching, and sweeping expired leases
    async def long_chunk(ctx: Any, ops: list[int]) -> list[int]:
        await asyncio.sleep(1.0)  # over three leases: only the heartbeat keeps the reservation
        return ops

    submission = await orm(submit)(long_chunk, range(3), chunk_size=3)
    await app.serve(until_idle=True)
    (chunk,) = await orm(chunk_rows_of)(submission)
    assert (chunk["status"], chunk["attempts"]) == ("done", 1)


def reserve(queue: str, token: str, *, lease_s: float = 30, strategy: Any = "oldest") -> Any:
    return reserve_chunk("default", queue, strategy, token=token, lease_s=lease_s, now=timezone.now())


def complete(chunk: Any, token: str) -> bool:
    return chunk_rows.complete_chunk(
        "default",
        chunk_id=chunk.id,
        submission_id=chunk.submission_id,
        token=token,
        ops=chunk.ops,
        results=list(chunk.payload),
        now=timezone.now(),
    )


def test_a_completion_after_the_reservation_expired_is_rejected() -> None:
    queue = unique_name("fence")
    submission = submit(queue, range(4), chunk_size=2)
    first = reserve(queue, "a" * 32, lease_s=0.01)
    assert first is not None and first.attempts == 1
    later = timezone.now() + timedelta(seconds=1)
    assert chunk_rows.reclaim_expired("default", queue, later) == 1
    again = reserve(queue, "b" * 32)
    assert (again.id, again.attempts) == (first.id, 2)  # the expired reservation counted
    assert complete(first, "a" * 32) is False  # the late worker is fenced out
    assert complete(again, "b" * 32) is True
    assert complete(again, "b" * 32) is False  # and a chunk counts once
    assert (submission.progress.chunks_done, submission.progress.ops_done) == (1, 2)


def test_an_expired_reservation_that_spends_the_budget_fails_the_submission() -> None:
    queue = unique_name("fence")
    submission = submit(queue, range(2), chunk_size=1, max_chunk_attempts=1)
    assert reserve(queue, "a" * 32, lease_s=0.01) is not None
    chunk_rows.reclaim_expired("default", queue, timezone.now() + timedelta(seconds=1))
    with pytest.raises(SubmissionFailed, match="chunk 0 raised reservation expired"):
        submission.wait(timeout=1)
    assert [c["status"] for c in chunk_rows_of(submission)] == ["failed", "skipped"]


def test_a_failed_attempt_waits_out_its_retry_delay_doubling_each_time() -> None:
    queue = unique_name("delay")
    submit(queue, range(2), chunk_size=2)
    start = timezone.now()

    def reserve_at(offset_s: float, token: str) -> Any:
        at = start + timedelta(seconds=offset_s)
        return reserve_chunk("default", queue, "oldest", token=token, lease_s=1, now=at)

    def fail_at(chunk: Any, offset_s: float) -> None:
        at = start + timedelta(seconds=offset_s)
        assert chunk_rows.fail_chunk(
            "default", chunk_id=chunk.id, token=chunk.token, error="E: x", now=at, retry_delay_s=10
        )

    fail_at(reserve_at(0, "a" * 32), 0)  # attempt 1 failed: 10 s before the next
    assert reserve_at(9, "b" * 32) is None
    second = reserve_at(11, "c" * 32)
    assert second is not None and second.attempts == 2
    fail_at(second, 11)  # attempt 2 failed: 20 s
    assert reserve_at(30, "d" * 32) is None
    assert reserve_at(32, "e" * 32).attempts == 3


async def test_the_source_applies_its_retry_delay_between_attempts() -> None:
    app = OneStepApp("subs")
    source = SubmissionSource(unique_name("later"), per="chunk", retry_delay_s=0.4, poll_interval_s=0.05)
    started: list[float] = []

    @app.task(source=source, concurrency=2)
    def flaky(ctx: Any, ops: list[int]) -> list[int]:
        started.append(time.monotonic())
        if len(started) == 1:
            raise ConnectionError("the search cluster is restarting")
        return ops

    submission = await orm(submit)(flaky, range(3), chunk_size=3)
    await app.serve(until_idle=True)
    assert len(started) == 2 and started[1] - started[0] >= 0.4
    assert await orm(lambda: list(submission.results()))() == [0, 1, 2]
    with pytest.raises(ConfigurationError, match="retry_delay_s"):
        SubmissionSource("q", retry_delay_s=-1)


def test_the_heartbeat_extends_only_reservations_still_held() -> None:
    queue = unique_name("lease")
    submit(queue, range(4), chunk_size=2)
    first, second = reserve(queue, "a" * 32, lease_s=1), reserve(queue, "b" * 32, lease_s=1)
    now = timezone.now()
    extended = chunk_rows.extend_reservations(
        "default", [(first.id, "a" * 32), (second.id, "x" * 32)], 60, now
    )
    assert extended == 1
    until = dict(SubmissionChunk.objects.filter(queue=queue).values_list("id", "reserved_until"))
    assert until[first.id] > now + timedelta(seconds=30)
    assert until[second.id] < now + timedelta(seconds=30)


def test_cancel_skips_open_chunks_and_fences_out_a_running_completion() -> None:
    queue = unique_name("cancel")
    submission = submit(queue, range(6), chunk_size=2)
    held = reserve(queue, "a" * 32)
    assert complete(held, "a" * 32) is True
    running = reserve(queue, "b" * 32)
    assert submission.cancel() is True
    assert submission.cancel() is False  # it had already ended
    assert complete(running, "b" * 32) is False
    assert submission.wait(timeout=1) == "cancelled"
    assert [c["status"] for c in chunk_rows_of(submission)] == ["done", "skipped", "skipped"]
    assert submission.progress.chunks_done == 1
    assert reserve(queue, "c" * 32) is None
    with pytest.raises(RuntimeError, match="cancelled: results"):
        list(submission.results())


def test_cancel_chosen_as_a_deadlock_victim_runs_its_transaction_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import OperationalError

    queue = unique_name("cancel-deadlock")
    submission = submit(queue, range(4), chunk_size=2)
    real_skip, calls = chunk_rows.skip_open_chunks, []

    def skip_after_a_deadlock(using: str, submission_id: int) -> Any:
        calls.append(submission_id)
        if len(calls) == 1:  # what MySQL/MariaDB answers when a worker holds the chunk rows
            raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return real_skip(using, submission_id)

    monkeypatch.setattr(chunk_rows, "skip_open_chunks", skip_after_a_deadlock)
    assert submission.cancel() is True
    assert len(calls) == 2  # the whole transaction again, the status update with it
    assert submission.wait(timeout=1) == "cancelled"
    assert [c["status"] for c in chunk_rows_of(submission)] == ["skipped", "skipped"]


def test_release_gives_a_chunk_back_without_spending_an_attempt() -> None:
    queue = unique_name("release")
    submit(queue, range(2), chunk_size=2)
    held = reserve(queue, "a" * 32)
    assert chunk_rows.release_chunk("default", chunk_id=held.id, token="a" * 32) is True
    assert SubmissionChunk.objects.get(id=held.id).attempts == 0
    assert reserve(queue, "b" * 32).id == held.id
