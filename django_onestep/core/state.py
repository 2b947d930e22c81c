"""State and cursor stores (protocols + in-memory versions) and per-task scoping.

``ctx.state`` is a :class:`ScopedState` whose keys are ``"<app>:<task>:<key>"`` in the
app's store, exactly as in onestep, so a Django-backed store can share rows with it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from django_onestep.core.validation import is_number

__all__ = ["CursorStore", "InMemoryCursorStore", "InMemoryStateStore", "ScopedState", "StateStore"]


@runtime_checkable
class CursorStore(Protocol):
    async def load(self, key: str) -> Any | None: ...

    async def save(self, key: str, value: Any) -> None: ...


@runtime_checkable
class StateStore(CursorStore, Protocol):
    async def delete(self, key: str) -> None: ...


class InMemoryStateStore:
    """A dict behind the StateStore protocol (lost at exit; for tests and demos)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    async def load(self, key: str) -> Any | None:
        return self._values.get(key)

    async def save(self, key: str, value: Any) -> None:
        self._values[key] = value

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def incr(self, key: str, amount: int | float = 1) -> Any:
        """Add ``amount`` (absent counts as 0); returns the new value. Atomic: no await inside."""
        base = self._values.get(key)
        base = 0 if base is None else base
        if not is_number(base):
            raise TypeError(f"incr({key!r}): stored value is {type(base).__name__}, not a number")
        self._values[key] = new = base + amount
        return new

    async def compare_and_set(self, key: str, expected: Any, new: Any) -> bool:
        """Store ``new`` if the current value equals ``expected`` (None matches an absent key)."""
        if self._values.get(key) != expected:
            return False
        self._values[key] = new
        return True

    def snapshot(self) -> dict[str, Any]:
        """A copy of every key and value (handy in tests)."""
        return dict(self._values)


class InMemoryCursorStore(InMemoryStateStore):
    pass


class ScopedState:
    """A view of a store where every key is prefixed with ``namespace + ":"``."""

    __slots__ = ("_namespace", "_store")

    def __init__(self, store: StateStore, namespace: str) -> None:
        self._store = store
        self._namespace = namespace

    @property
    def namespace(self) -> str:
        return self._namespace

    def scope(self, namespace: str) -> ScopedState:
        return ScopedState(self._store, self._qualify(namespace))

    async def get(self, key: str, default: Any | None = None) -> Any | None:
        value = await self._store.load(self._qualify(key))
        return default if value is None else value

    async def load(self, key: str) -> Any | None:
        return await self._store.load(self._qualify(key))

    async def set(self, key: str, value: Any) -> None:
        await self._store.save(self._qualify(key), value)

    async def save(self, key: str, value: Any) -> None:
        await self._store.save(self._qualify(key), value)

    async def delete(self, key: str) -> None:
        await self._store.delete(self._qualify(key))

    async def incr(self, key: str, amount: int | float = 1) -> Any:
        """Atomic add (beyond onestep): a read-then-``set`` loses updates under concurrency."""
        incr = getattr(self._store, "incr", None)
        if incr is None:
            raise TypeError(f"{type(self._store).__name__} has no atomic incr(); use DatabaseStateStore")
        return await incr(self._qualify(key), amount)

    async def compare_and_set(self, key: str, expected: Any, new: Any) -> bool:
        """Store ``new`` only if the value is still ``expected`` (beyond onestep)."""
        compare_and_set = getattr(self._store, "compare_and_set", None)
        if compare_and_set is None:
            raise TypeError(f"{type(self._store).__name__} has no compare_and_set(); use DatabaseStateStore")
        return bool(await compare_and_set(self._qualify(key), expected, new))

    def _qualify(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ValueError(f"state key must be a non-empty string, got {key!r}")
        return f"{self._namespace}:{key}"
