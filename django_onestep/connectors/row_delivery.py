"""One claimed table row handed to the runner: shared by the MySQL table queue and ``ModelQueue``.

The queue that claimed the row settles it (``RowQueue``); the delivery only makes sure
it is settled once and keeps the payload in step with what was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from django_onestep.core.base import Delivery
from django_onestep.core.envelope import Envelope

__all__ = ["RowDelivery", "RowQueue"]


class RowQueue(Protocol):
    table: str

    async def settle_ack(self, delivery: RowDelivery, values: dict[str, Any] | None) -> None: ...

    async def settle_retry(self, delivery: RowDelivery, delay_s: float, *, count: bool) -> None: ...

    async def settle_fail(self, delivery: RowDelivery) -> None: ...

    async def update_row(self, delivery: RowDelivery, values: dict[str, Any]) -> None: ...


class RowDelivery(Delivery):
    """``payload`` is the row as a dict; ``attempts`` counts its earlier claims."""

    def __init__(self, source: RowQueue, row: dict[str, Any], key: Any, token: str, attempts: int) -> None:
        super().__init__(
            Envelope(body=row, meta={"table": source.table, "key": key}, attempts=max(0, attempts - 1))
        )
        self._source = source
        self.key = key
        self.token = token

    async def update_current_row(self, values: Mapping[str, Any]) -> None:
        """Write ``values`` to the row now (the claim is kept); the payload follows."""
        await self._source.update_row(self, dict(values))
        self._merge(values)

    async def complete(self, values: Mapping[str, Any]) -> None:
        """Write ``values`` and the ``ack`` mapping in one transaction: the row is done."""
        if self.mark_settled():
            await self._source.settle_ack(self, dict(values))
            self._merge(values)

    async def ack(self) -> None:
        if self.mark_settled():
            await self._source.settle_ack(self, None)

    async def retry(self, *, delay_s: float | None = None) -> None:
        if self.mark_settled():
            await self._source.settle_retry(self, max(0.0, delay_s or 0.0), count=True)

    async def release_unstarted(self) -> None:
        if self.mark_settled():
            await self._source.settle_retry(self, 0.0, count=False)

    async def fail(self, exc: Exception | None = None) -> None:
        if self.mark_settled():
            await self._source.settle_fail(self)

    def _merge(self, values: Mapping[str, Any]) -> None:
        if isinstance(self.envelope.body, dict):
            self.envelope.body.update(values)
