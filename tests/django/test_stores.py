"""DatabaseStateStore / DatabaseCursorStore and the lossless JSON codec (both DBs)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from django_onestep.models import Cursor, StateEntry
from django_onestep.orm import lossless_json as jsoncodec
from django_onestep.orm.stores import DatabaseCursorStore, DatabaseStateStore
from tests.django.dbqueue_helpers import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = {
    "when": dt.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=dt.UTC),
    "naive": dt.datetime(2026, 1, 2, 3, 4, 5),
    "day": dt.date(2026, 2, 28),
    "at": dt.time(23, 59, 58, 1),
    "span": dt.timedelta(days=2, seconds=5, microseconds=7),
    "price": Decimal("19.990"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "raw": b"\x00\xffbytes",
    "pair": (1, "two"),
    "tags": {"a", "b"},
    "nested": [{"$dt": "looks like a tag"}, {"$esc": 1}],
    "plain": {"n": 1, "f": 1.5, "none": None, "ok": True},
}


def test_codec_round_trips_every_supported_type_exactly() -> None:
    decoded = jsoncodec.loads(jsoncodec.dumps(SAMPLE))
    assert decoded == SAMPLE
    assert type(decoded["price"]) is Decimal and str(decoded["price"]) == "19.990"
    assert decoded["when"].tzinfo is not None and decoded["naive"].tzinfo is None
    assert type(decoded["pair"]) is tuple


def test_codec_rejects_lossy_values_naming_the_path() -> None:
    with pytest.raises(TypeError, match=r"value\.a: dict keys must be strings, got 1"):
        jsoncodec.dumps({"a": {1: "x"}})
    with pytest.raises(ValueError, match=r"value\.x: NaN and infinity"):
        jsoncodec.dumps({"x": float("nan")})
    with pytest.raises(TypeError, match=r"value\[0\]: values of type object"):
        jsoncodec.dumps([object()])


async def test_load_save_delete_and_upsert() -> None:
    store = DatabaseStateStore(namespace="ns")
    try:
        assert await store.load("k") is None
        await store.save("k", SAMPLE)
        assert await store.load("k") == SAMPLE
        await store.save("k", {"v": 2})
        assert await store.load("k") == {"v": 2}
        await store.delete("k")
        assert await store.load("k") is None
        await store.delete("k")  # deleting twice is fine
    finally:
        await store.close()


def test_rows_are_namespaced_and_versioned() -> None:
    store = DatabaseStateStore(namespace="app:task")
    store.save_sync("cursor", 1)
    store.save_sync("cursor", 2)
    row = StateEntry.objects.get()
    assert (row.key, row.version, jsoncodec.loads(row.value_json)) == ("app:task:cursor", 2, 2)
    assert DatabaseStateStore().load_sync("app:task:cursor") == 2
    with pytest.raises(ValueError, match="non-empty string"):
        store.save_sync("", 1)


def test_incr_is_atomic_across_threads() -> None:
    store = DatabaseStateStore()

    def work() -> None:
        for _ in range(20):
            store.incr_sync("hits")

    errors = run_in_threads(work, 6)
    assert errors == []
    assert store.load_sync("hits") == 120
    assert store.incr_sync("hits", 2.5) == 122.5
    store.save_sync("text", "x")
    with pytest.raises(TypeError, match="stored value is str, not a number"):
        store.incr_sync("text")


async def test_compare_and_set() -> None:
    store = DatabaseStateStore()
    try:
        assert await store.compare_and_set("leader", None, "w1") is True
        assert await store.compare_and_set("leader", None, "w2") is False
        assert await store.compare_and_set("leader", "w2", "w3") is False
        assert await store.compare_and_set("leader", "w1", "w2") is True
        assert await store.load("leader") == "w2"
        assert await store.incr("n", 5) == 5
    finally:
        await store.close()


def test_cursor_store_uses_its_own_table() -> None:
    cursors = DatabaseCursorStore()
    cursors.save_sync("orders", {"updated_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "id": 7})
    assert Cursor.objects.count() == 1 and StateEntry.objects.count() == 0
    assert cursors.load_sync("orders") == {"updated_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "id": 7}


async def test_ctx_state_reaches_the_stores_atomic_incr_and_compare_and_set() -> None:
    from django_onestep import ScopedState

    store = DatabaseStateStore()
    try:
        state = ScopedState(store, "shop:count")
        assert await state.incr("orders") == 1
        assert await state.incr("orders", 4) == 5
        assert await state.compare_and_set("leader", None, "w1") is True
        assert await state.compare_and_set("leader", None, "w2") is False
        assert await store.load("shop:count:orders") == 5
        assert await store.load("shop:count:leader") == "w1"
    finally:
        await store.close()
