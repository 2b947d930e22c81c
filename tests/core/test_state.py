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
