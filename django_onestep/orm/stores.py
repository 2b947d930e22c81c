"""ORM-backed ``StateStore`` and ``CursorStore`` (onestep's async load/save/delete).

Values go through the lossless codec (``lossless_json``): a datetime or Decimal saved is
the same type when loaded. Writes are atomic upserts; ``incr`` and
``compare_and_set`` are atomic read-modify-writes under a row lock (SQLite's
IMMEDIATE transactions serialise them). ``namespace`` prefixes every key
(``"<namespace>:<key>"``). Each store does its DB work on one dedicated thread; the
``*_sync`` twins run in the caller's thread (and transaction).
"""

from __future__ import annotations

import asyncio
from typing import Any

from django_onestep.conf import get_settings
from django_onestep.core.errors import ConnectorOperation
from django_onestep.core.validation import is_number
from django_onestep.orm import lossless_json
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread

__all__ = ["DatabaseCursorStore", "DatabaseStateStore"]

_MISSING: Any = object()


class _OrmStore:
    model_name = "StateEntry"

    def __init__(self, *, using: str | None = None, namespace: str | None = None) -> None:
        self.using = using or get_settings().DATABASE
        self.namespace = namespace
        self._thread: DBThread | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(using={self.using!r}, namespace={self.namespace!r})"

    @property
    def model(self) -> Any:
        from django_onestep import models

        return getattr(models, self.model_name)

    def _key(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ValueError(f"state key must be a non-empty string, got {key!r}")
        full = f"{self.namespace}:{key}" if self.namespace else key
        if len(full) > 255:
            raise ValueError(f"state key is longer than 255 characters: {full[:60]!r}...")
        return full

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._thread is None:
            self._thread = acquire_thread(self.using, "write")
        return await self._thread.run(fn, *args, operation=ConnectorOperation.SEND, source_name=repr(self))

    async def close(self) -> None:
        if self._thread is not None:
            thread, self._thread = self._thread, None
            await asyncio.to_thread(release_thread, thread)

    # ----- sync API (caller's thread and transaction) ------------------------------

    def load_sync(self, key: str, default: Any = None) -> Any:
        text = (
            self.model.objects.using(self.using)
            .filter(key=self._key(key))
            .values_list("value_json", flat=True)
            .first()
        )
        return default if text is None else lossless_json.loads(text)

    def save_sync(self, key: str, value: Any) -> None:
        from django.db import IntegrityError, transaction
        from django.db.models import F

        full, text = self._key(key), lossless_json.dumps(value)
        rows = self.model.objects.using(self.using)
        for _ in range(3):
            if rows.filter(key=full).update(value_json=text, version=F("version") + 1):
                return
            try:
                with transaction.atomic(using=self.using):
                    rows.create(key=full, value_json=text)
                return
            except IntegrityError:
                continue  # created concurrently: update it
        raise RuntimeError(f"could not upsert state key {full!r}")  # pragma: no cover

    def delete_sync(self, key: str) -> None:
        self.model.objects.using(self.using).filter(key=self._key(key)).delete()

    def _modify_sync(self, key: str, change: Any) -> Any:
        """Run ``change(current) -> (new, result)`` under a row lock; upsert ``new``."""
        from django.db import IntegrityError, transaction
        from django.db.models import F

        full = self._key(key)
        rows = self.model.objects.using(self.using)
        for _ in range(3):
            try:
                with transaction.atomic(using=self.using):
                    current = (
                        rows.select_for_update().filter(key=full).values_list("value_json", flat=True).first()
                    )
                    value = _MISSING if current is None else lossless_json.loads(current)
                    new, result = change(value)
                    if new is _MISSING:
                        return result
                    text = lossless_json.dumps(new)
                    if current is None:
                        rows.create(key=full, value_json=text)
                    else:
                        rows.filter(key=full).update(value_json=text, version=F("version") + 1)
                    return result
            except IntegrityError:
                continue
        raise RuntimeError(f"could not update state key {full!r}")  # pragma: no cover

    def incr_sync(self, key: str, amount: int | float = 1) -> Any:
        def change(value: Any) -> tuple[Any, Any]:
            base = 0 if value is _MISSING or value is None else value
            if not is_number(base):
                raise TypeError(f"incr({key!r}): stored value is {type(base).__name__}, not a number")
            new = base + amount
            return new, new

        return self._modify_sync(key, change)

    def compare_and_set_sync(self, key: str, expected: Any, new: Any) -> bool:
        """Store ``new`` if the current value equals ``expected`` (None matches an absent key)."""

        def change(value: Any) -> tuple[Any, Any]:
            current = None if value is _MISSING else value
            if current != expected:
                return _MISSING, False
            return new, True

        return bool(self._modify_sync(key, change))

    # ----- async API (onestep's protocol + extras) -----------------------------------

    async def load(self, key: str) -> Any:
        return await self._run(self.load_sync, key)

    async def save(self, key: str, value: Any) -> None:
        await self._run(self.save_sync, key, value)

    async def delete(self, key: str) -> None:
        await self._run(self.delete_sync, key)

    async def incr(self, key: str, amount: int | float = 1) -> Any:
        """Add ``amount`` atomically (absent counts as 0); returns the new value."""
        return await self._run(self.incr_sync, key, amount)

    async def compare_and_set(self, key: str, expected: Any, new: Any) -> bool:
        return bool(await self._run(self.compare_and_set_sync, key, expected, new))


class DatabaseStateStore(_OrmStore):
    """``ctx.state``'s default store in a Django project: rows of ``StateEntry``."""

    model_name = "StateEntry"


class DatabaseCursorStore(_OrmStore):
    """Cursor positions of incremental sources: rows of ``Cursor``."""

    model_name = "Cursor"
