"""One activity task handed to the runner, and how each outcome reports it to Step Functions.

- success: ``SendTaskSuccess`` with the handler's result as JSON, unless it is larger
  than Step Functions accepts (256 KiB), which is reported as the failure
  ``onestep.ResultTooLarge`` instead of an output the service would refuse;
- ``ctx.fail(error, cause)``: ``SendTaskFailure`` with that error and cause;
- a handler that raised: ``SendTaskFailure`` with the exception's type name as the error
  (what a state machine's ``Retry``/``Catch`` match on) and its message and traceback as
  the cause. Retries belong to the state machine: a task's token cannot be put back, so
  the task's own retry policy ends in the same report.

Causes are capped at 32 KiB and errors at 256 characters, the service's limits.
While the handler runs, ``SendTaskHeartbeat`` goes out every ``heartbeat_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.stepfunctions.classify import GONE, error_code, to_connector_error
from django_onestep.core.base import Delivery
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperation

if TYPE_CHECKING:
    from django_onestep.connectors.stepfunctions.activity import ActivitySource

__all__ = ["MAX_CAUSE_CHARS", "MAX_ERROR_CHARS", "MAX_OUTPUT_BYTES", "RELEASED", "ActivityDelivery"]

logger = logging.getLogger("django_onestep.connectors.stepfunctions")

MAX_OUTPUT_BYTES = 262_144  # 256 KiB: Step Functions' limit on a task's output
MAX_CAUSE_CHARS = 32_768
MAX_ERROR_CHARS = 256
RELEASED = ("onestep.Released", "the worker stopped before the task started; it can run again")
_INTERRUPTED = ("onestep.Interrupted", "the worker stopped while the task ran (shutdown timeout)")


def capped(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    marker = f"... [{len(text) - limit + 40} more characters cut]"
    return text[: limit - len(marker)] + marker


class ActivityDelivery(Delivery):
    def __init__(self, source: ActivitySource, token: str, input_text: str) -> None:
        poison_reason = None
        try:
            body = json.loads(input_text)
        except ValueError:
            body, poison_reason = input_text, "the task's input is not JSON"
        super().__init__(Envelope(body=body, meta={"stepfunctions": {"activity_arn": source.arn}}))
        self.poison_reason = poison_reason
        self.source = source
        self.token = token
        self._result: Any = None
        self._failure: tuple[str, str] | None = None  # the handler raised
        self._business_failure: tuple[str, str] | None = None  # ctx.fail()
        self._heartbeat: asyncio.Task[None] | None = None

    # -- what the handler produced -------------------------------------------------------
    def record_result(self, result: Any, *, keep: bool = True) -> None:
        self._result = result

    def record_failure(self, exc: BaseException, failure: Any) -> None:
        cause = failure.message if not failure.traceback else f"{failure.message}\n\n{failure.traceback}"
        self._failure = (failure.exception_type, cause)

    def report_failure(self, error: str, cause: str = "") -> None:
        """``ctx.fail(error, cause)``: report a business failure when the handler returns."""
        if not isinstance(error, str) or not error:
            raise ValueError(f"ctx.fail(): error must be a non-empty string, got {error!r}")
        self._business_failure = (error, str(cause))

    # -- heartbeats ----------------------------------------------------------------------
    async def start_processing(self) -> None:
        if self.source.heartbeat_s is not None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat(self.source.heartbeat_s))

    async def _beat(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.source.connector.call("send_task_heartbeat", taskToken=self.token)
            except Exception as exc:
                if error_code(exc).lower() in GONE:
                    logger.warning(
                        "activity %s: the task timed out or is gone; heartbeats stop", self.source.name
                    )
                    return
                logger.warning("activity %s: heartbeat failed: %s", self.source.name, exc)

    def _settle(self) -> bool:
        if not self.mark_settled():
            return False
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        return True

    # -- settling ------------------------------------------------------------------------
    async def ack(self) -> None:
        if not self._settle():
            return
        if self._business_failure is not None:
            await self._send_failure(*self._business_failure)
            return
        try:
            output = json.dumps(self._result)
        except (TypeError, ValueError) as exc:
            await self._send_failure("onestep.ResultNotJSON", f"the handler's result is not JSON: {exc}")
            return
        size = len(output.encode())
        if size > MAX_OUTPUT_BYTES:
            await self._send_failure(
                "onestep.ResultTooLarge",
                f"the handler's result is {size} bytes as JSON, over Step Functions' {MAX_OUTPUT_BYTES}: "
                "store it elsewhere (S3) and return a reference",
            )
            return
        await self._report("send_task_success", ConnectorOperation.ACK, output=output)

    async def retry(self, *, delay_s: float | None = None) -> None:
        if self._settle():
            await self._send_failure(*(self._failure or _INTERRUPTED))

    async def fail(self, exc: Exception | None = None) -> None:
        if not self._settle():
            return
        if self._failure is None and exc is not None:
            self._failure = (type(exc).__name__, str(exc))
        await self._send_failure(*(self._failure or ("onestep.Failed", "")))

    async def release_unstarted(self) -> None:
        if self._settle():
            await self._send_failure(*RELEASED)

    async def _send_failure(self, error: str, cause: str) -> None:
        await self._report(
            "send_task_failure",
            ConnectorOperation.FAIL,
            error=capped(error, MAX_ERROR_CHARS),
            cause=capped(cause, MAX_CAUSE_CHARS),
        )

    async def _report(self, method: str, operation: ConnectorOperation, **params: Any) -> None:
        try:
            await self.source.connector.call(method, taskToken=self.token, **params)
        except Exception as exc:
            if error_code(exc).lower() in GONE:
                # nothing can report it any more: the state machine already saw a timeout
                logger.warning(
                    "activity %s: the task timed out before its outcome was reported (%s)",
                    self.source.name,
                    error_code(exc),
                )
                return
            raise to_connector_error(
                exc, operation=operation, source_name=self.source.name, tokens=self.source.connector.tokens
            ) from None
