"""``TableQueueSource``: rows of a user table as jobs, by a status column (onestep's table_queue).

A batch is claimed in one transaction (``FOR UPDATE SKIP LOCKED``, then the ``claim``
mapping), with a lease on the server's clock that this source extends while handlers
run; a worker that dies loses its lease and the rows come back. Acks are
group-committed: the acks that arrive while one commit runs share the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django_onestep.connectors.group_commit import GroupCommit
from django_onestep.connectors.mysql.classify import to_connector_error
from django_onestep.connectors.mysql.delivery import TableQueueDelivery
from django_onestep.connectors.mysql.identifiers import (
    checked_name,
    checked_table,
    checked_values,
    checked_where,
)
from django_onestep.connectors.mysql.schema import check_columns, ensure_claims_table, table_columns
from django_onestep.connectors.mysql.statements import QueueSql
from django_onestep.connectors.row_delivery import RowDelivery
from django_onestep.core.base import Delivery, Source
from django_onestep.core.errors import ConfigurationError, ConnectorOperation
from django_onestep.core.validation import int_between, non_negative_number, positive_number

if TYPE_CHECKING:
    from django_onestep.connectors.mysql.connector import MySQLConnector

__all__ = ["TableQueueSource"]

logger = logging.getLogger("django_onestep.connectors.mysql.queue")
T = TypeVar("T")
_DEADLOCK_CODES = (1205, 1213)  # lock wait timeout, deadlock: the transaction is safe to run again
_LOCK_CONFLICT_TRIES = 7  # pauses of 10, 20, ... 320 ms: about 0.6 s before giving up
_MAX_ACK_BATCH = 500
_EXPIRED_SCAN_S = 1.0


class TableQueueSource(Source):
    fetch_is_cancel_safe = False  # a claim that committed must reach the runner

    def __init__(
        self,
        connector: MySQLConnector,
        *,
        table: str,
        key: str,
        where: str | Mapping[str, Any],
        where_params: Sequence[Any] | None,
        claim: Mapping[str, Any],
        ack: Mapping[str, Any],
        nack: Mapping[str, Any] | None,
        fail: Mapping[str, Any] | None,
        batch_size: int,
        lease_s: float,
        attempts_column: str | None,
        poll_interval_s: float,
    ) -> None:
        owner = "mysql table_queue"
        self.table = checked_table(owner, table)
        super().__init__(f"mysql.table_queue:{self.table}")
        owner = f"mysql table_queue {self.table!r}"
        int_between(f"{owner} batch_size", batch_size, 1, 10_000)
        if positive_number(f"{owner} lease_s", lease_s) < 1:
            raise ConfigurationError(f"{owner} lease_s: must be >= 1 second, got {lease_s!r}")
        non_negative_number(f"{owner} poll_interval_s", poll_interval_s)
        self.connector = connector
        self.key = checked_name(owner, "key", key)
        self.attempts_column = (
            None if attempts_column is None else checked_name(owner, "attempts_column", attempts_column)
        )
        self.sql = QueueSql(
            table=self.table,
            key=self.key,
            where=checked_where(owner, where, where_params),
            claim=checked_values(owner, "claim", claim, required=True),
            ack=checked_values(owner, "ack", ack, required=True),
            nack=checked_values(owner, "nack", nack, required=False),
            fail=checked_values(owner, "fail", fail, required=False),
            attempts_column=self.attempts_column,
        )
        self.batch_size = batch_size
        self.lease_s = float(lease_s)
        self.poll_interval_s = float(poll_interval_s)
        self._owner = owner
        self._held: Counter[str] = Counter()  # claim token -> deliveries not settled yet
        self._acks = GroupCommit(self._commit_acks, max_batch=_MAX_ACK_BATCH)
        self._lease_task: asyncio.Task[None] | None = None
        self._expired_scan_at = float("-inf")

    def __repr__(self) -> str:
        return f"TableQueueSource(table={self.table!r}, key={self.key!r}, connector={self.connector!r})"

    # -- startup ---------------------------------------------------------------------
    def check_schema(self, conn: Any) -> None:
        """Raise ConfigurationError naming the first option whose column the table lacks."""
        sql = self.sql
        used = [("key", self.key)]
        for option, mapping in (
            ("claim", sql.claim),
            ("ack", sql.ack),
            ("nack", sql.nack),
            ("fail", sql.fail),
        ):
            used += [(option, column) for column in mapping]
        if self.attempts_column:
            used.append(("attempts_column", self.attempts_column))
        check_columns(self._owner, self.table, table_columns(conn, self.table), used)
        ensure_claims_table(conn)

    def preflight(self) -> None:
        """The schema check on a connection of its own (``onestep_check``, the worker before serving)."""
        self.connector.check_on_own_connection(self.check_schema, source_name=self.name)

    async def open(self) -> None:
        await self._call(ConnectorOperation.OPEN, self.check_schema)
        self._lease_task = asyncio.create_task(self._extend_leases(), name=f"{self.name} leases")

    async def close(self) -> None:
        if self._lease_task is not None:
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_task
            self._lease_task = None
        await self._acks.drain()
        await self.connector.close()

    # -- fetching --------------------------------------------------------------------
    async def fetch(self, limit: int) -> list[Delivery]:
        token = uuid.uuid4().hex
        size = max(1, min(limit, self.batch_size))
        # Expired leases are looked for once a second, not on every claim: one round trip less.
        now = time.monotonic()
        expired = now - self._expired_scan_at >= _EXPIRED_SCAN_S
        if expired:
            self._expired_scan_at = now
        rows = await self._call(
            ConnectorOperation.FETCH,
            lambda conn: self.sql.claim_batch(conn, size, token, self.lease_s, expired=expired),
        )
        if rows:
            self._held[token] += len(rows)
        return [TableQueueDelivery(self, row.row, row.key, token, row.attempts) for row in rows]

    # -- settling --------------------------------------------------------------------
    async def settle_ack(self, delivery: RowDelivery, values: dict[str, Any] | None) -> None:
        await self._acks.submit((delivery, values))

    async def _commit_acks(self, batch: list[tuple[RowDelivery, dict[str, Any] | None]]) -> None:
        plain = [(d.key, d.token) for d, values in batch if not values]
        completes = [(d, values) for d, values in batch if values]

        def settle(conn: Any) -> int:
            done = self.sql.ack_rows(conn, plain) if plain else 0
            for delivery, values in completes:
                done += self.sql.ack_rows(conn, [(delivery.key, delivery.token)], values)
            return done

        try:
            done = await self._call(ConnectorOperation.ACK, settle)
        finally:  # settled or not, this worker stops extending their leases: a failed ack comes back
            for delivery, _ in batch:
                self._release(delivery.token)
        if done < len(batch):
            logger.warning(
                "%s: %d of %d acked rows had lost their claim (lease expired): another worker has them",
                self.name, len(batch) - done, len(batch),
            )  # fmt: skip

    async def settle_retry(self, delivery: RowDelivery, delay_s: float, *, count: bool) -> None:
        try:
            await self._call(
                ConnectorOperation.RETRY,
                lambda conn: self.sql.retry_row(conn, delivery.key, delivery.token, delay_s, count=count),
            )
        finally:  # failed or not, its lease is no longer extended: the row comes back either way
            self._release(delivery.token)
        if not self.sql.nack:  # the row comes back through the expired-lease path: look there next
            self._expired_scan_at = float("-inf")

    async def settle_fail(self, delivery: RowDelivery) -> None:
        try:
            await self._call(
                ConnectorOperation.FAIL, lambda conn: self.sql.fail_row(conn, delivery.key, delivery.token)
            )
        finally:
            self._release(delivery.token)

    async def update_row(self, delivery: RowDelivery, values: dict[str, Any]) -> None:
        owner = f"{self._owner} update_current_row"
        checked_values(owner, "values", values, required=True)
        updated = await self._call(
            ConnectorOperation.SEND,
            lambda conn: self.sql.update_row(conn, delivery.key, delivery.token, values),
        )
        if not updated:
            raise ConfigurationError(f"{owner}: row {delivery.key!r} is no longer claimed by this worker")

    def _release(self, token: str) -> None:
        self._held[token] -= 1
        if self._held[token] <= 0:
            del self._held[token]

    # -- leases ----------------------------------------------------------------------
    async def _extend_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            extend = functools.partial(self.sql.extend_leases, tokens=list(self._held), lease_s=self.lease_s)
            try:
                await self._call(ConnectorOperation.HEARTBEAT, extend)
            except Exception as exc:  # the next round tries again; the lease still has 2/3 left
                logger.warning("%s: extending leases failed: %s", self.name, exc)

    async def _call(self, operation: ConnectorOperation, fn: Callable[[Any], T]) -> T:
        import MySQLdb

        for attempt in range(_LOCK_CONFLICT_TRIES):
            try:
                return await self.connector.run(fn)
            except MySQLdb.Error as exc:
                code = exc.args[0] if exc.args else 0
                if code in _DEADLOCK_CODES and attempt < _LOCK_CONFLICT_TRIES - 1:
                    # Several workers' claims and group-committed acks can pick each other
                    # as victims again at once; a growing pause lets one of them through.
                    # An ack that failed here would run its handler again.
                    await asyncio.sleep(0.01 * 2**attempt)
                    continue
                raise to_connector_error(
                    exc,
                    operation=operation,
                    source_name=self.name,
                    tokens=self.connector.tokens,
                    retry_delay_s=self.poll_interval_s,
                ) from None
        raise AssertionError("unreachable")
