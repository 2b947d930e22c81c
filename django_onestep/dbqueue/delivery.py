"""One claimed job as a ``Delivery``; every settlement is fenced on its claim token."""

from __future__ import annotations

import traceback
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Delivery, Sink
from django_onestep.core.envelope import Envelope
from django_onestep.dbqueue.settle import SettleOp

if TYPE_CHECKING:
    from django_onestep.dbqueue.queue import DatabaseQueue

__all__ = ["DatabaseDelivery"]

_MAX_ERROR_CHARS = 4000


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:_MAX_ERROR_CHARS]


class DatabaseDelivery(Delivery):
    """A claimed ``Job`` row. ``settled`` tells whether the fence matched (None: not yet)."""

    def __init__(
        self, queue: DatabaseQueue, *, job_id: int, token: str, envelope: Envelope, reclaims: int
    ) -> None:
        super().__init__(envelope)
        self.queue = queue
        self.job_id = job_id
        self.token = token
        self.reclaims = reclaims
        self.started = False
        self.settled: bool | None = None
        if queue.max_deliveries is not None and reclaims >= queue.max_deliveries:
            self.poison_reason = (
                f"job {job_id} of DatabaseQueue({queue.name!r}) was claimed by a worker that died "
                f"{reclaims} times (max_deliveries={queue.max_deliveries})"
            )

    def __repr__(self) -> str:
        return f"<DatabaseDelivery {self.queue.name}#{self.job_id} attempts={self.envelope.attempts}>"

    async def _settle(self, op: SettleOp) -> bool:
        if self.settled is not None:
            return self.settled  # settle once; a second call is a no-op
        self.settled = await self.queue.settle(op)
        return self.settled

    async def start_processing(self) -> None:
        self.started = True

    async def release_unstarted(self) -> None:
        if self.started:
            return
        await self._settle(SettleOp("release", self.job_id, self.token))

    async def ack(self) -> None:
        await self._settle(SettleOp("ack", self.job_id, self.token))

    async def retry(self, *, delay_s: float | None = None) -> None:
        if await self._settle(SettleOp("retry", self.job_id, self.token, delay_s=delay_s)) and delay_s:
            self.queue.note_delayed_retry(self.job_id, delay_s)

    async def fail(self, exc: Exception | None = None) -> None:
        await self._settle(SettleOp("fail", self.job_id, self.token, error=_describe(exc)))

    async def fail_to_dead_letter(self, sink: Sink, envelope: Envelope) -> bool:
        """Mark the job dead and store its dead letter in one transaction.

        Only when ``sink`` is a ``DatabaseDeadLetters`` on the same database; otherwise
        the runner sends to the sink and calls ``fail`` (two steps, as in onestep).
        """
        from django_onestep.orm.dead_letters import DatabaseDeadLetters

        if not isinstance(sink, DatabaseDeadLetters) or sink.using != self.queue.using:
            return False
        failure = envelope.body.get("failure") if isinstance(envelope.body, dict) else None
        error = ""
        if isinstance(failure, dict):
            error = f"{failure.get('exception_type', '')}: {failure.get('message', '')}"[:_MAX_ERROR_CHARS]

        def build_row(first_failed_at: datetime | None) -> Any:
            return sink.build_row(envelope, job_id=self.job_id, first_failed_at=first_failed_at)

        await self._settle(SettleOp("dead", self.job_id, self.token, error=error, dead_letter=build_row))
        return True
