"""One claimed row handed to the runner, and how each outcome settles it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Delivery
from django_onestep.core.envelope import Envelope

if TYPE_CHECKING:
    from django_onestep.connectors.mysql.queue import TableQueueSource

__all__ = ["TableQueueDelivery"]


class TableQueueDelivery(Delivery):
    """``payload`` is the row as a dict; ``attempts`` counts its earlier claims."""

    def __init__(
        self, source: TableQueueSource, row: dict[str, Any], key: Any, token: str, attempts: int
    ) -> None:
        meta = {"table": source.table, "key": key}
        super().__init__(Envelope(body=row, meta=meta, attempts=max(0, attempts - 1)))
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
