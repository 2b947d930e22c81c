"""``ModelQueue``: rows of a Django model as jobs, by a status field (the table queue, through the ORM).

    orders = ModelQueue(Order, where=Q(status="new"), claim={"status": "processing"},
                        ack={"status": "shipped"}, nack={"status": "new"}, fail={"status": "failed"})

Same semantics as ``MySQLConnector.table_queue``: batched claims, a lease extended
while handlers run (a dead worker's rows come back), fenced settlements, attempts
counted in ``RowClaim`` so ``MaxAttempts`` ends a row that always fails, acks
group-committed. Runs on every database Django supports.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db.models import Q

from django_onestep.connectors.group_commit import GroupCommit
from django_onestep.connectors.row_delivery import RowDelivery
from django_onestep.core.base import Delivery, Source
from django_onestep.core.errors import ConfigurationError, ConnectorOperation, ConnectorOperationError
from django_onestep.core.validation import int_between, positive_number
from django_onestep.model_sources.model_claims import ClaimSql
from django_onestep.model_sources.model_fields import checked_fields
from django_onestep.model_sources.row_keys import RowKeys
from django_onestep.orm.dbthread import MYSQL_RETRY_CODES, DBThread, acquire_thread, release_thread

__all__ = ["ModelQueue"]

logger = logging.getLogger("django_onestep.model_sources.model_queue")
T = TypeVar("T")
_EXPIRED_SCAN_S = 1.0
_DEADLOCK_TRIES = 5


def _mapping(owner: str, model: Any, option: str, values: Any, *, required: bool) -> dict[str, Any]:
    if values is None and not required:
        return {}
    if not isinstance(values, Mapping) or (required and not values):
        raise ConfigurationError(
            f"{owner} {option}: must be a non-empty mapping of field to value, got {values!r}"
        )
    checked_fields(owner, model, option, list(values))
    return dict(values)


class ModelQueue(Source):
    fetch_is_cancel_safe = False  # a claim that committed must reach the runner

    def __init__(
        self,
        model: Any,
        where: Q | Mapping[str, Any],
        claim: Mapping[str, Any],
        ack: Mapping[str, Any],
        nack: Mapping[str, Any] | None = None,
        fail: Mapping[str, Any] | None = None,
        *,
        batch_size: int = 100,
        lease_s: float = 300.0,
        using: str | None = None,
        poll_interval_s: float = 1.0,
    ) -> None:
        from django.db import router

        super().__init__(f"model.queue:{model._meta.label_lower}")
        owner = f"ModelQueue({model.__name__})"
        if isinstance(where, Mapping):
            checked_fields(owner, model, "where", list(where))
            where = Q(**where)
        if not isinstance(where, Q):
            raise ConfigurationError(f"{owner} where: must be a Q object or a mapping, got {where!r}")
        keys = RowKeys(owner, model)
        int_between(f"{owner} batch_size", batch_size, 1, 10_000)
        if positive_number(f"{owner} lease_s", lease_s) < 1:
            raise ConfigurationError(f"{owner} lease_s: must be >= 1 second, got {lease_s!r}")
        self.model = model
        self.table = model._meta.db_table
        self.using = using or router.db_for_write(model)
        self.batch_size, self.lease_s, self.poll_interval_s = (
            batch_size,
            float(lease_s),
            float(poll_interval_s),
        )
        self.sql = ClaimSql(
            model,
            self.using,
            keys,
            where=where,
            claim=_mapping(owner, model, "claim", claim, required=True),
            ack=_mapping(owner, model, "ack", ack, required=True),
            nack=_mapping(owner, model, "nack", nack, required=False),
            fail=_mapping(owner, model, "fail", fail, required=False),
        )
        self._owner = owner
        self._held: Counter[str] = Counter()
        self._row_keys: dict[Any, str] = {}  # pk -> the row_key of its claim
        self._acks = GroupCommit(self._commit_acks)
        self._claim_thread: DBThread | None = None
        self._write_thread: DBThread | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._expired_scan_at = float("-inf")

    def __repr__(self) -> str:
        return f"ModelQueue({self.model.__name__}, using={self.using!r})"

    async def open(self) -> None:
        self._claim_thread = acquire_thread(self.using, "claim")
        self._write_thread = acquire_thread(self.using, "write")
        self._lease_task = asyncio.create_task(self._extend_leases(), name=f"{self.name} leases")

    async def close(self) -> None:
        if self._lease_task is not None:
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_task
        await self._acks.drain()
        for thread in (self._claim_thread, self._write_thread):
            if thread is not None:
                release_thread(thread)
        self._claim_thread = self._write_thread = None

    async def fetch(self, limit: int) -> list[Delivery]:
        token = uuid.uuid4().hex
        now = time.monotonic()
        expired = now - self._expired_scan_at >= _EXPIRED_SCAN_S
        if expired:
            self._expired_scan_at = now
        size = max(1, min(limit, self.batch_size))
        claimed = await self._run(
            self._claim_thread, ConnectorOperation.FETCH,
            lambda: self.sql.claim_batch(size, token, self.lease_s, expired=expired),
        )  # fmt: skip
        deliveries: list[Delivery] = []
        for pk, row_key, row, attempts in claimed:
            self._row_keys[pk] = row_key
            deliveries.append(RowDelivery(self, row, pk, token, attempts))
        if claimed:
            self._held[token] += len(claimed)
        return deliveries

    async def settle_ack(self, delivery: RowDelivery, values: dict[str, Any] | None) -> None:
        await self._acks.submit((delivery, values))

    async def _commit_acks(self, batch: list[tuple[RowDelivery, dict[str, Any] | None]]) -> None:
        plain = [self._ref(d) for d, values in batch if not values]
        completes = [(self._ref(d), values) for d, values in batch if values]

        def settle() -> int:
            done = self.sql.ack_rows(plain) if plain else 0
            for ref, values in completes:
                done += self.sql.ack_rows([ref], values)
            return done

        try:
            done = await self._run(self._write_thread, ConnectorOperation.ACK, settle)
        finally:
            for delivery, _ in batch:
                self._forget(delivery)
        if done < len(batch):
            logger.warning(
                "%s: %d acked rows had lost their claim to another worker", self.name, len(batch) - done
            )

    async def settle_retry(self, delivery: RowDelivery, delay_s: float, *, count: bool) -> None:
        pk, key, token = self._ref(delivery)
        try:
            await self._run(
                self._write_thread, ConnectorOperation.RETRY,
                lambda: self.sql.retry_row(pk, key, token, delay_s, count=count),
            )  # fmt: skip
        finally:
            self._forget(delivery)
        if not self.sql.nack:
            self._expired_scan_at = float("-inf")

    async def settle_fail(self, delivery: RowDelivery) -> None:
        pk, key, token = self._ref(delivery)
        try:
            await self._run(
                self._write_thread, ConnectorOperation.FAIL, lambda: self.sql.fail_row(pk, key, token)
            )
        finally:
            self._forget(delivery)

    async def update_row(self, delivery: RowDelivery, values: dict[str, Any]) -> None:
        checked_fields(self._owner, self.model, "update_current_row", list(values))
        pk, key, token = self._ref(delivery)
        updated = await self._run(
            self._write_thread, ConnectorOperation.SEND, lambda: self.sql.update_row(pk, key, token, values)
        )
        if not updated:
            raise ConfigurationError(
                f"{self._owner} update_current_row: row {pk!r} is no longer claimed by this worker"
            )

    def _ref(self, delivery: RowDelivery) -> tuple[Any, str, str]:
        return delivery.key, self._row_keys[delivery.key], delivery.token

    def _forget(self, delivery: RowDelivery) -> None:
        self._row_keys.pop(delivery.key, None)
        self._held[delivery.token] -= 1
        if self._held[delivery.token] <= 0:
            del self._held[delivery.token]

    async def _extend_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            extend = functools.partial(self.sql.extend_leases, list(self._held), self.lease_s)
            try:
                await self._run(self._write_thread, ConnectorOperation.HEARTBEAT, extend)
            except Exception as exc:  # the next round tries again
                logger.warning("%s: extending leases failed: %s", self.name, exc)

    async def _run(self, thread: DBThread | None, operation: ConnectorOperation, fn: Callable[[], T]) -> T:
        if thread is None:
            raise RuntimeError(f"{self.name}: open() the queue first")
        for attempt in range(_DEADLOCK_TRIES):
            try:
                return await thread.run(fn, operation=operation, source_name=self.name)
            except ConnectorOperationError as exc:
                # Workers claiming and settling side by side can deadlock on MySQL/MariaDB; each
                # transaction is whole, so running it again is safe.
                code = getattr(exc.__cause__, "args", (None,))[0]
                if code not in MYSQL_RETRY_CODES or attempt == _DEADLOCK_TRIES - 1:
                    raise
        raise AssertionError("unreachable")
