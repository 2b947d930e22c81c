"""Batch handlers on a MemoryQueue: gathering, per-item outcomes, the batch as a unit."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from django_onestep import ConfigurationError, Envelope, MaxAttempts, MemoryQueue, OneStepApp

from .conftest import EventLog, serve_idle


async def test_25_items_then_idle_give_10_10_5_the_last_after_the_window() -> None:
    app = OneStepApp("batches")
    queue = MemoryQueue("in")
    seen: list[tuple[float, list[int]]] = []

    @app.task(source=queue, batch_size=10, batch_within_s=1.0)
    async def work(ctx, payloads):
        seen.append((time.monotonic(), list(payloads)))

    for n in range(25):
        queue.put_nowait(n)
    await serve_idle(app)
    assert [len(batch) for _, batch in seen] == [10, 10, 5]
    assert [n for _, batch in seen for n in batch] == list(range(25))
    waited_s = seen[2][0] - seen[1][0]
    assert 0.9 <= waited_s < 1.8, waited_s


async def test_a_full_batch_does_not_wait_for_the_window() -> None:
    app = OneStepApp("batches")
    queue = MemoryQueue("in", batch_size=3)  # the batch takes several fetches to fill
    seen: list[list[int]] = []

    @app.task(source=queue, batch_size=10, batch_within_s=30.0)
    async def work(ctx, payloads):
        seen.append(payloads)

    for n in range(20):
        queue.put_nowait(n)
    started = time.monotonic()
    await serve_idle(app)
    assert seen == [list(range(10)), list(range(10, 20))]
    assert time.monotonic() - started < 5.0


async def test_per_item_outcomes_ack_retry_fail_and_dead_letter(events: EventLog) -> None:
    app = OneStepApp("batches")
    app.on_event(events)
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")
    runs: list[list[tuple[str, int]]] = []

    @app.task(source=queue, dead_letter=dead, retry=MaxAttempts(2), batch_size=4, batch_within_s=0.2)
    async def work(ctx, payloads):
        runs.append([(item.payload, item.attempts) for item in ctx.batch])
        for item in ctx.batch:
            if item.payload == "again" and item.attempts == 0:
                ctx.batch.retry(item, delay_s=0.05)
            elif item.payload == "flaky":
                ctx.batch.fail(item.index, ValueError("still flaky"))
            elif item.payload == "bad":
                ctx.batch.dead_letter(item, ValueError("bad item"))

    for payload in ("ok", "again", "flaky", "bad"):
        queue.put_nowait(payload)
    await serve_idle(app)
    assert runs[0] == [("ok", 0), ("again", 0), ("flaky", 0), ("bad", 0)]
    # "again" is asked back once; "flaky" is retried by MaxAttempts(2), then dead-lettered
    later = sorted(pair for run in runs[1:] for pair in run)
    assert later == [("again", 1), ("flaky", 1)]
    letters = {e.body["payload"]: e.body["failure"]["message"] for e in dead.drain_nowait()}
    assert letters == {"bad": "bad item", "flaky": "still flaky"}
    assert events.kinds().count("succeeded") == 2  # "ok", then "again" on its second run
    assert events.kinds().count("dead_lettered") == 2


async def test_a_raising_handler_retries_the_whole_batch_even_items_it_marked() -> None:
    app = OneStepApp("batches")
    queue = MemoryQueue("in")
    runs: list[list[tuple[int, int]]] = []

    @app.task(source=queue, retry=MaxAttempts(3), batch_size=5, batch_within_s=0.1)
    async def work(ctx, payloads):
        runs.append([(item.payload, item.attempts) for item in ctx.batch])
        if len(runs) == 1:
            ctx.batch.dead_letter(0, ValueError("ignored: the raise below wins"))
            raise RuntimeError("database down")

    for n in range(5):
        queue.put_nowait(n)
    await serve_idle(app)
    assert runs == [[(n, 0) for n in range(5)], [(n, 1) for n in range(5)]]


async def test_a_batch_that_exhausts_the_policy_is_dead_lettered_item_by_item() -> None:
    app = OneStepApp("batches")
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=queue, dead_letter=dead, batch_size=3, batch_within_s=0.1)
    async def work(ctx, payloads):
        raise TimeoutError("too slow")

    for n in range(3):
        queue.put_nowait(n)
    await serve_idle(app)
    letters = dead.drain_nowait()
    assert sorted(e.body["payload"] for e in letters) == [0, 1, 2]
    assert {e.body["failure"]["kind"] for e in letters} == {"timeout"}


async def test_a_sync_batch_handler_gets_the_list_in_a_thread_and_no_single_current() -> None:
    app = OneStepApp("batches")
    queue = MemoryQueue("in")
    seen: list[Any] = []

    @app.task(source=queue, batch_size=3, batch_within_s=0.1)
    def work(ctx, payloads):
        with pytest.raises(RuntimeError, match=r"batch handler.*ctx\.batch\[i\]\.envelope"):
            ctx.current  # noqa: B018 - the property raises
        seen.append((payloads, [item.envelope.body for item in ctx.batch]))

    for n in range(3):
        queue.put_nowait(n)
    await serve_idle(app)
    assert seen == [([0, 1, 2], [0, 1, 2])]


async def test_concurrency_counts_batches_in_flight() -> None:
    app = OneStepApp("batches")
    queue = MemoryQueue("in")
    running = peak = 0

    @app.task(source=queue, batch_size=2, batch_within_s=0.0, concurrency=3)
    async def work(ctx, payloads):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1

    for n in range(12):
        queue.put_nowait(n)
    await serve_idle(app)
    assert peak == 3


async def test_a_bad_mark_fails_the_batch_with_a_message_naming_the_item() -> None:
    app = OneStepApp("batches")
    queue, dead = MemoryQueue("in"), MemoryQueue("dead")

    @app.task(source=queue, dead_letter=dead, batch_size=2, batch_within_s=0.0)
    async def work(ctx, payloads):
        ctx.batch.retry(7)

    queue.put_nowait("a")
    await serve_idle(app)
    [letter] = dead.drain_nowait()
    assert letter.body["failure"]["message"] == (
        "ctx.batch: item must be a BatchItem of this batch or an index 0..0, got 7"
    )


class CappedQueue(MemoryQueue):
    max_unsettled = 50
    max_unsettled_option = "prefetch"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_within_s": 1.0}, "task 'work': batch_within_s needs batch_size"),
        ({"batch_size": 0}, "task 'work' batch_size"),
        ({"batch_size": 10, "batch_within_s": -1}, "task 'work' batch_within_s"),
        (
            {"batch_size": 100, "source": CappedQueue("capped")},
            "task 'work': batch_size=100 is more than source 'capped' hands out before any is "
            "settled (prefetch=50); set prefetch to at least 100 or lower batch_size",
        ),
    ],
)
def test_bad_batch_options_are_configuration_errors(options: dict[str, Any], message: str) -> None:
    app = OneStepApp("batches")
    options.setdefault("source", MemoryQueue("in"))
    with pytest.raises(ConfigurationError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):

        @app.task(**options)
        async def work(ctx, payloads): ...


def test_a_batch_as_large_as_the_prefetch_is_accepted() -> None:
    app = OneStepApp("batches")

    @app.task(source=CappedQueue("capped"), batch_size=50)
    async def work(ctx, payloads): ...

    assert (work.task_spec.batch_size, work.task_spec.batch_within_s) == (50, 1.0)


async def test_a_source_swapped_in_after_definition_is_checked_when_serving() -> None:
    app = OneStepApp("batches")

    @app.task(source=MemoryQueue("in"), batch_size=100)
    async def work(ctx, payloads): ...

    work.task_spec.source = CappedQueue("capped")  # TaskSpec is mutable until it serves
    with pytest.raises(ConfigurationError, match=r"batch_size=100 is more than source 'capped'"):
        await serve_idle(app)


def test_batch_marks_check_their_arguments() -> None:
    from django_onestep.core.runtime.batch_context import Batch
    from django_onestep.core.runtime.memory import MemoryDelivery

    home = MemoryQueue("home")
    batch = Batch([MemoryDelivery(home, Envelope(body=n)) for n in range(2)])
    other = Batch([MemoryDelivery(home, Envelope(body="x"))])
    with pytest.raises(
        TypeError, match=r"^ctx\.batch\.fail\(\): exc must be an exception instance, got 'boom'$"
    ):
        batch.fail(0, "boom")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^ctx\.batch\.retry\(\): delay_s must be a number >= 0 or None, got -1$"
    ):
        batch.retry(0, delay_s=-1)
    with pytest.raises(ValueError, match="belongs to another batch"):
        batch.dead_letter(other[0], ValueError("x"))
    with pytest.raises(ValueError, match=r"an index 0\.\.1, got True"):
        batch.retry(True)
    batch.fail(1, ValueError("first"))
    batch.retry(batch[1], delay_s=2)  # a later mark replaces the earlier one
    assert batch.outcome(1) is not None and (batch.outcome(1).action, batch.outcome(1).delay_s) == (
        "retry",
        2.0,
    )
    assert batch.outcome(0) is None
    assert batch.payloads == [0, 1] and len(batch) == 2
