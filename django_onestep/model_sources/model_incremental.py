"""``ModelIncremental``: new and changed rows of a Django model, in ``(cursor..., pk)`` order.

    changed = ModelIncremental(Customer, cursor=("updated_at",), where=Q(active=True))

The ORM form of ``MySQLConnector.incremental``, with the same ordering, position and
failure handling (``connectors/ordered_cursor.py``), on any database Django supports.
The position is kept in ``DatabaseCursorStore`` by default. ``lag_s`` is on the
worker's clock (``timezone.now()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db.models import Q

from django_onestep.connectors.ordered_cursor import ON_FAILURE, OrderedCursorSource, Position
from django_onestep.core.errors import ConfigurationError, ConnectorOperation
from django_onestep.core.state import CursorStore
from django_onestep.core.validation import int_between, non_negative_number
from django_onestep.model_sources.model_fields import checked_fields
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread

__all__ = ["ModelIncremental"]


class ModelIncremental(OrderedCursorSource):
    backend = "database"

    def __init__(
        self,
        model: Any,
        cursor: tuple[str, ...] | list[str] = (),
        where: Q | Mapping[str, Any] | None = None,
        batch_size: int = 1000,
        state: CursorStore | None = None,
        state_key: str | None = None,
        lag_s: float = 0,
        *,
        on_failure: str = "fence",
        using: str | None = None,
        poll_interval_s: float = 1.0,
    ) -> None:
        from django.db import router

        label = model._meta.label_lower
        owner = f"ModelIncremental({model.__name__})"
        if not cursor:
            raise ConfigurationError(
                f"{owner} cursor: name the field(s) rows are ordered by, e.g. ('updated_at',)"
            )
        key = model._meta.pk.name
        columns = checked_fields(owner, model, "cursor", cursor)
        effective = columns if key in columns else (*columns, key)
        if isinstance(where, Mapping):
            where = Q(**where)
        if where is not None and not isinstance(where, Q):
            raise ConfigurationError(f"{owner} where: must be a Q object or a mapping, got {where!r}")
        int_between(f"{owner} batch_size", batch_size, 1, 100_000)
        non_negative_number(f"{owner} lag_s", lag_s)
        if on_failure not in ON_FAILURE:
            raise ConfigurationError(
                f"{owner} on_failure: must be one of {list(ON_FAILURE)}, got {on_failure!r}"
            )
        if state is None:
            from django_onestep.orm.stores import DatabaseCursorStore

            state = DatabaseCursorStore()
        super().__init__(
            f"model.incremental:{label}",
            owner=owner,
            table=model._meta.db_table,
            key=key,
            cursor=effective,
            batch_size=batch_size,
            state=state,
            state_key=state_key or f"{label}:{','.join(effective)}:key={key}:where={where or '-'}",
            lag_s=float(lag_s),
            on_failure=on_failure,
            poll_interval_s=float(poll_interval_s),
        )
        self.model = model
        self.where = where
        self.using = using or router.db_for_read(model)
        self._thread: DBThread | None = None

    def __repr__(self) -> str:
        return f"ModelIncremental({self.model.__name__}, cursor={self.cursor!r}, using={self.using!r})"

    async def _check(self) -> None:
        if self._thread is None:
            self._thread = acquire_thread(self.using, "claim")

    async def _read_rows(self, after: Position | None, limit: int) -> list[dict[str, Any]]:
        await self._check()
        assert self._thread is not None
        rows: list[dict[str, Any]] = await self._thread.run(
            self._select, after, limit, operation=ConnectorOperation.FETCH, source_name=self.name
        )
        return rows

    def _select(self, after: Position | None, limit: int) -> list[dict[str, Any]]:
        from django.utils import timezone

        rows = self.model._default_manager.using(self.using).all()
        if self.where is not None:
            rows = rows.filter(self.where)
        if after is not None:
            # (a, b, pk) > (x, y, z), spelt out so each prefix can use an index range.
            later = Q()
            for i, column in enumerate(self.cursor):
                later |= Q(
                    **{c: after[j] for j, c in enumerate(self.cursor[:i])}, **{f"{column}__gt": after[i]}
                )
            rows = rows.filter(later)
        if self.lag_s:
            rows = rows.filter(**{f"{self.cursor[0]}__lte": timezone.now() - timedelta(seconds=self.lag_s)})
        return [dict(row) for row in rows.order_by(*self.cursor).values()[:limit]]

    async def _release(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            release_thread(thread)
