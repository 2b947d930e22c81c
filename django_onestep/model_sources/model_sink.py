"""``ModelSink``: a task's results written to a Django model (insert, upsert or update by ``keys``).

    ModelSink(Score, mode="upsert", keys=("player", "game"))

An upsert needs a unique constraint on exactly ``keys`` (the primary key, a unique
field, ``unique_together`` or an unconditional ``UniqueConstraint``), checked when the
sink is declared: without one, PostgreSQL and SQLite refuse ``ON CONFLICT`` and MySQL
would insert duplicates. Rows are written with ``bulk_create`` (one statement per
batch); updates run in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django_onestep.core.base import Sink
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError, ConnectorOperation
from django_onestep.model_sources.model_fields import checked_fields, unique_field_sets
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread

__all__ = ["ModelSink"]

MODES = ("insert", "upsert", "update")


class ModelSink(Sink):
    def __init__(
        self, model: Any, mode: str = "insert", keys: Sequence[str] = (), *, using: str | None = None
    ) -> None:
        from django.db import router

        super().__init__(f"model.sink:{model._meta.label_lower}")
        owner = self._owner = f"ModelSink({model.__name__})"
        if mode not in MODES:
            raise ConfigurationError(f"{owner} mode: must be one of {list(MODES)}, got {mode!r}")
        self.keys = checked_fields(owner, model, "keys", tuple(keys) if not isinstance(keys, str) else keys)
        if mode != "insert" and not self.keys:
            raise ConfigurationError(f"{owner} keys: mode={mode!r} needs the fields that identify a row")
        if mode == "upsert" and set(self.keys) not in unique_field_sets(model):
            raise ConfigurationError(
                f"{owner} keys: upsert needs a unique constraint on exactly {list(self.keys)}; "
                f"{model.__name__} has none, so rows could not be matched"
            )
        self.model = model
        self.mode = mode
        self.using = using or router.db_for_write(model)
        self._fields = {f.name for f in model._meta.concrete_fields} | {
            f.attname for f in model._meta.concrete_fields
        }
        self._thread: DBThread | None = None

    def __repr__(self) -> str:
        return f"ModelSink({self.model.__name__}, mode={self.mode!r}, keys={self.keys!r})"

    async def send(self, envelope: Envelope) -> None:
        body = envelope.body
        rows = [body] if isinstance(body, Mapping) else body
        if not isinstance(rows, list | tuple) or not all(isinstance(row, Mapping) for row in rows):
            raise TypeError(
                f"{self._owner}: a payload is a mapping or a list of mappings, got {type(body).__name__}"
            )
        for row in rows:
            unknown = sorted(set(row) - self._fields)
            if unknown:
                raise ValueError(f"{self._owner}: {unknown} are not fields of {self.model.__name__}")
            missing = [key for key in self.keys if key not in row]
            if missing and self.mode != "insert":
                raise ValueError(f"{self._owner}: a row lacks the key field(s) {missing}")
        if not rows:
            return
        if self._thread is None:
            self._thread = acquire_thread(self.using, "write")
        await self._thread.run(
            self._write, list(rows), operation=ConnectorOperation.SEND, source_name=self.name
        )

    def _write(self, rows: list[Mapping[str, Any]]) -> None:
        from django.db import transaction

        manager = self.model._default_manager.db_manager(self.using)
        if self.mode == "update":
            with transaction.atomic(using=self.using):
                for row in rows:
                    match = {key: row[key] for key in self.keys}
                    manager.filter(**match).update(**{k: v for k, v in row.items() if k not in self.keys})
            return
        objects = [self.model(**row) for row in rows]
        if self.mode == "insert":
            manager.bulk_create(objects)
            return
        from django.db import connections

        update_fields = sorted({column for row in rows for column in row} - set(self.keys))
        # MySQL/MariaDB match on any unique index and take no conflict target.
        target = connections[self.using].features.supports_update_conflicts_with_target
        manager.bulk_create(
            objects,
            update_conflicts=True,
            unique_fields=list(self.keys) if target else None,
            update_fields=update_fields or None,
        )

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            release_thread(thread)
