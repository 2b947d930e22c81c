"""``ModelQueue``: a status-field queue on a Django model, SQLite here and MariaDB in its pass."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.db.models import Q

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.retry import MaxAttempts
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.model_sources import ModelQueue
from django_onestep.models import RowClaim
from testproject.testapp.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def rows(count: int) -> None:
    Run.objects.bulk_create([Run(label=str(i), task="new") for i in range(count)])


def states() -> dict[str, int]:
    counts: dict[str, int] = {}
    for task in Run.objects.values_list("task", flat=True):
        counts[task] = counts.get(task, 0) + 1
    return counts


def queue(**options: Any) -> ModelQueue:
    options.setdefault("fail", {"task": "failed"})
    return ModelQueue(Run, Q(task="new"), {"task": "processing"}, {"task": "done"}, **options)


async def test_a_batch_is_claimed_once_and_acked() -> None:
    await asyncio.to_thread(rows, 5)
    first, second = queue(), queue()
    await first.open()
    await second.open()
    try:
        got = await first.fetch(3)
        other = await second.fetch(10)
        assert len(got) == 3 and len(other) == 2
        assert {d.payload["id"] for d in got}.isdisjoint(d.payload["id"] for d in other)
        assert got[0].payload["task"] == "processing" and got[0].envelope.attempts == 0
        await asyncio.gather(*(d.ack() for d in got))
        assert await asyncio.to_thread(states) == {"done": 3, "processing": 2}
    finally:
        await first.close()
        await second.close()


async def test_a_dead_claim_comes_back_after_the_lease_and_its_late_ack_is_fenced() -> None:
    await asyncio.to_thread(rows, 1)
    dead, alive = queue(lease_s=1), queue(lease_s=1)
    await dead.open()
    await alive.open()
    try:
        (held,) = await dead.fetch(1)
        await dead.close()
        await asyncio.sleep(1.1)
        (back,) = await alive.fetch(1)
        assert back.envelope.attempts == 1
        await dead.open()  # the stalled worker wakes up and acks late:
        await held.ack()  # its token no longer holds the row
        await dead.close()
        assert await asyncio.to_thread(states) == {"processing": 1}
        await back.complete({"label": "shipped"})
        assert await asyncio.to_thread(lambda: list(Run.objects.values_list("task", "label"))) == [
            ("done", "shipped")
        ]
        assert await asyncio.to_thread(RowClaim.objects.count) == 0
    finally:
        await alive.close()


async def test_a_row_that_always_fails_ends_failed_after_max_attempts_with_one_dead_letter() -> None:
    await asyncio.to_thread(rows, 1)
    dead = MemoryQueue("dead")
    app = OneStepApp("model-queue-fails")
    calls: list[int] = []

    @app.task(
        source=queue(nack={"task": "new"}, poll_interval_s=0.05), dead_letter=dead, retry=MaxAttempts(3)
    )
    async def always_fails(ctx: Any, row: Any) -> None:
        calls.append(ctx.current.attempts)
        raise RuntimeError("boom")

    await asyncio.wait_for(app.serve(until_idle=True), 30)
    assert calls == [0, 1, 2]
    assert await asyncio.to_thread(states) == {"failed": 1}
    assert dead.size() == 1


def test_a_field_the_model_lacks_is_named_when_declared() -> None:
    with pytest.raises(ConfigurationError, match=r"ModelQueue\(Run\) claim: 'status' is not a field of Run"):
        ModelQueue(Run, Q(task="new"), {"status": "x"}, {"task": "done"})


async def test_update_current_row_writes_now_and_checks_its_fields() -> None:
    await asyncio.to_thread(rows, 1)
    source = queue()
    await source.open()
    try:
        (delivery,) = await source.fetch(1)
        await delivery.update_current_row({"label": "half way"})
        assert delivery.payload["label"] == "half way"
        assert await asyncio.to_thread(lambda: list(Run.objects.values_list("task", "label"))) == [
            ("processing", "half way")
        ]
        with pytest.raises(ConfigurationError, match="update_current_row: 'colour' is not a field of Run"):
            await delivery.update_current_row({"colour": "red"})
        await delivery.ack()
    finally:
        await source.close()
