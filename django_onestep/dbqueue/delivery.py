"""One claimed job as a ``Delivery``; every settlement is fenced on its claim token."""

from __future__ import annotations

import asyncio
import json
import traceback
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Delivery, Sink
from django_onestep.core.envelope import Envelope
from django_onestep.dbqueue.progress import ProgressWriter
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


def _error_json(exc: BaseException | None, *, default_type: str = "", default_message: str = "") -> str:
    if exc is None:
        detail = {"type": default_type, "message": default_message, "traceback": ""}
    else:
        detail = {
            "type": type(exc).__name__,
            "message": str(exc)[:_MAX_ERROR_CHARS],
            "traceback": "".join(traceback.format_exception(exc))[-_MAX_ERROR_CHARS * 4 :],
        }
    return json.dumps(detail)


class DatabaseDelivery(Delivery):
    """A claimed ``Job`` row. ``settled`` tells whether the fence matched (None: not yet)."""

    def __init__(
        self,
        queue: DatabaseQueue,
        *,
        job_id: int,
        token: str,
        envelope: Envelope,
        reclaims: int,
        has_dedupe_key: bool = True,
    ) -> None:
        super().__init__(envelope)
        self.queue = queue
        self.job_id = job_id
        self.token = token
        self.reclaims = reclaims
        self.has_dedupe_key = has_dedupe_key
        self.started = False
        self.settled: bool | None = None
        self._result_json: str | None = None
        self._progress: ProgressWriter | None = None
        self._abort_requested = False
        self._abort_seen = False  # the handler read should_abort() as True
        self._settling = False
        self._handler_task: asyncio.Task[Any] | None = None
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
        if self._progress is not None:
            self._progress.flush()
        if self._abort_seen and op.kind != "release":
            # stopped on request: whatever the handler did next, the outcome is "aborted"
            error = "JobAborted: stopped on request while running"
            abort_error = _error_json(None, default_type="JobAborted", default_message="stopped on request")
            op = SettleOp("aborted", self.job_id, self.token, error=error, error_json=abort_error)
        self._settling = True
        self.settled = await self.queue.settle(op)
        return self.settled

    # ----- results, progress and abort ------------------------------------------------

    def record_result(self, result: Any, *, keep: bool = True) -> None:
        if not keep or result is None:
            return  # store_result=False; or the column's NULL already says "no value"
        try:
            self._result_json = json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"job {self.job_id} of DatabaseQueue({self.queue.name!r}): the handler's return value "
                f"must be JSON serializable to be stored ({exc}); return JSON values or set "
                "@app.task(store_result=False)"
            ) from None

    def set_progress(self, progress: Mapping[str, Any]) -> None:
        if self._progress is None:
            self._progress = ProgressWriter(self.queue, self.job_id, self.token)
        self._progress.report(progress)

    def abort_requested(self) -> bool:
        if self._abort_requested:
            self._abort_seen = True
        return self._abort_requested

    def cancel_on_abort(self, task: asyncio.Task[Any]) -> None:
        self._handler_task = task

    def request_abort(self) -> None:
        """Called on the event loop when the job's ``abort_requested_at`` is seen."""
        if self._abort_requested or self._settling:
            return  # settling already: the handler is done, nothing to stop
        self._abort_requested = True
        task = self._handler_task
        if task is not None and not task.done():
            self._abort_seen = True
            task.cancel("job aborted on request")

    async def start_processing(self) -> None:
        self.started = True

    async def release_unstarted(self) -> None:
        if self.started:
            return
        await self._settle(SettleOp("release", self.job_id, self.token))

    async def ack(self) -> None:
        await self._settle(
            SettleOp(
                "ack",
                self.job_id,
                self.token,
                result_json=self._result_json,
                clear_dedupe_key=self.has_dedupe_key,
            )
        )

    async def retry(self, *, delay_s: float | None = None) -> None:
        if await self._settle(SettleOp("retry", self.job_id, self.token, delay_s=delay_s)) and delay_s:
            self.queue.note_delayed_retry(self.job_id, delay_s)

    async def fail(self, exc: Exception | None = None) -> None:
        await self._settle(
            SettleOp("fail", self.job_id, self.token, error=_describe(exc), error_json=_error_json(exc))
        )

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
        error_json = None
        if isinstance(failure, dict):
            error = f"{failure.get('exception_type', '')}: {failure.get('message', '')}"[:_MAX_ERROR_CHARS]
            error_json = json.dumps(
                {
                    "type": str(failure.get("exception_type", "")),
                    "message": str(failure.get("message", ""))[:_MAX_ERROR_CHARS],
                    "traceback": str(failure.get("traceback", "") or "")[-_MAX_ERROR_CHARS * 4 :],
                }
            )

        def build_row(first_failed_at: datetime | None) -> Any:
            return sink.build_row(envelope, job_id=self.job_id, first_failed_at=first_failed_at)

        if self._abort_seen:  # stopped on request: recorded as aborted, not a dead letter
            await self._settle(SettleOp("fail", self.job_id, self.token))
            return True
        await self._settle(
            SettleOp(
                "dead", self.job_id, self.token, error=error, error_json=error_json, dead_letter=build_row
            )
        )
        return True
