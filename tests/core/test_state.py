"""State stores and ScopedState keys."""

from __future__ import annotations

import pytest

from django_onestep import CursorStore, InMemoryCursorStore, InMemoryStateStore, ScopedState, StateStore


async def test_in_memory_state_store_roundtrip() -> None:
    store = InMemoryStateStore()
    assert await store.load("k") is None
    await store.save("k", {"v": 1})
    assert await store.load("k") == {"v": 1}
    await store.delete("k")
    await store.delete("k")  # deleting a missing key is fine
    assert await store.load("k") is None
    assert isinstance(store, StateStore)
    assert isinstance(InMemoryCursorStore(), CursorStore)


async def test_scoped_state_keys_and_nesting() -> None:
    store = InMemoryStateStore()
    state = ScopedState(store, "app:task")
    await state.set("cursor", 5)
    await state.save("other", "x")
    await state.scope("sub").set("deep", True)
    assert store.snapshot() == {"app:task:cursor": 5, "app:task:other": "x", "app:task:sub:deep": True}
    assert await state.get("cursor") == 5
    assert await state.load("other") == "x"
    assert await state.get("missing", 7) == 7
    await state.delete("cursor")
    assert await state.get("cursor") is None
    with pytest.raises(ValueError, match=r"state key must be a non-empty string, got ''"):
        await state.get("")


async def test_scoped_state_passes_atomic_incr_and_compare_and_set_to_the_store() -> None:
    store = InMemoryStateStore()
    state = ScopedState(store, "app:task")
    assert await state.incr("runs") == 1
    assert await state.incr("runs", 2.5) == 3.5
    assert await state.compare_and_set("owner", None, "w1") is True  # None matches absent
    assert await state.compare_and_set("owner", None, "w2") is False
    assert await state.compare_and_set("owner", "w1", "w2") is True
    assert store.snapshot() == {"app:task:runs": 3.5, "app:task:owner": "w2"}
    await state.set("name", "x")
    with pytest.raises(TypeError, match=r"incr\('app:task:name'\): stored value is str, not a number"):
        await state.incr("name")


async def test_scoped_state_over_a_plain_store_names_what_is_missing() -> None:
    class PlainStore:
        async def load(self, key):
            return None

        async def save(self, key, value): ...

        async def delete(self, key): ...

    state = ScopedState(PlainStore(), "app:task")
    with pytest.raises(TypeError, match=r"PlainStore has no atomic incr\(\)"):
        await state.incr("runs")
    with pytest.raises(TypeError, match=r"PlainStore has no compare_and_set\(\)"):
        await state.compare_and_set("k", None, 1)
