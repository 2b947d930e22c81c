"""``ModelIncremental`` and ``ModelSink`` through the ORM: SQLite here, MariaDB in its pass."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Q
from django.utils import timezone

from django_onestep.core.errors import ConfigurationError, ConnectorOperationError
from django_onestep.core.runtime.memory import MemoryQueue
from django_onestep.core.state import InMemoryCursorStore
from django_onestep.model_sources import ModelIncremental, ModelSink
from testproject.testapp.models import Order, Run

pytestmark = pytest.mark.django_db(transaction=True)
T0 = timezone.now().replace(microsecond=123456) - timedelta(hours=1)


def runs(*labels: str, at: Any = T0) -> None:
    for label in labels:
        Run.objects.create(label=label, task="sync")
    Run.objects.update(created_at=at)


def incremental(**options: Any) -> ModelIncremental:
    options.setdefault("state", InMemoryCursorStore())
    return ModelIncremental(Run, cursor=("created_at",), **options)


async def drain(source: ModelIncremental) -> list[str]:
    seen: list[str] = []
    while batch := await source.fetch(10):
        seen += [d.payload["label"] for d in batch]
        await asyncio.gather(*(d.ack() for d in batch))
    return seen


async def test_equal_timestamps_across_batches_each_once_and_a_restart_resumes() -> None:
    await asyncio.to_thread(runs, "a", "b", "c", "d", "e")
    store = InMemoryCursorStore()
    source = incremental(batch_size=2, state=store)
    await source.open()
    assert await drain(source) == ["a", "b", "c", "d", "e"]
    await source.close()
    saved = await store.load(source.state_key)
    assert saved[0] == T0 and saved[1] == (await asyncio.to_thread(lambda: Run.objects.get(label="e").pk))
    await asyncio.to_thread(Run.objects.create, label="f", task="sync")
    again = incremental(state=store)
    await again.open()
    assert await drain(again) == ["f"]
    await again.close()


async def test_an_out_of_order_ack_keeps_the_position_before_the_gap() -> None:
    await asyncio.to_thread(runs, "a", "b")
    source = incremental()
    await source.open()
    first, second = await source.fetch(10)
    await second.ack()
    assert await source.state.load(source.state_key) is None
    await first.fail(RuntimeError("bad"))
    with pytest.raises(ConnectorOperationError, match="is fenced at cursor"):
        await source.fetch(10)
    await source.close()


async def test_where_and_lag_s() -> None:
    await asyncio.to_thread(runs, "old", "skip")
    await asyncio.to_thread(lambda: Run.objects.create(label="new", task="sync"))  # created now
    source = incremental(where=~Q(label="skip"), lag_s=60)
    await source.open()
    assert await drain(source) == ["old"]  # 'new' is younger than the lag
    await source.close()


def test_a_bad_cursor_field_is_named_when_declared() -> None:
    with pytest.raises(
        ConfigurationError, match=r"ModelIncremental\(Run\) cursor: 'updated' is not a field of Run"
    ):
        ModelIncremental(Run, cursor=("updated",))


async def test_sink_insert_upsert_update() -> None:
    insert = ModelSink(Order)
    await insert.publish([{"reference": "A-1"}, {"reference": "A-2"}])
    upsert = ModelSink(Order, mode="upsert", keys=("reference",))
    await upsert.publish([{"reference": "A-1", "processed": True}, {"reference": "A-3", "processed": True}])
    update = ModelSink(Order, mode="update", keys=["reference"])
    await update.publish({"reference": "A-2", "processed": True})
    await update.publish({"reference": "nope", "processed": True})
    got = await asyncio.to_thread(lambda: sorted(Order.objects.values_list("reference", "processed")))
    assert got == [("A-1", True), ("A-2", True), ("A-3", True)]
    for sink in (insert, upsert, update):
        await sink.close()


def test_upsert_without_a_unique_constraint_on_the_keys_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ModelSink(Run, mode="upsert", keys=("label",))
    assert str(caught.value) == (
        "ModelSink(Run) keys: upsert needs a unique constraint on exactly ['label']; "
        "Run has none, so rows could not be matched"
    )


async def test_dead_letter_mode_passes_the_row() -> None:
    await asyncio.to_thread(runs, "a", "b")
    source = incremental(on_failure="dead_letter")
    dead = MemoryQueue("dead")
    await source.open()
    first, second = await source.fetch(10)
    await first.fail_to_dead_letter(dead, first.envelope)
    await second.ack()
    assert dead.size() == 1 and (await source.state.load(source.state_key))[0] == T0
    await source.close()
