"""Running one delivery: hooks, handler (async on the loop, sync in the thread pool),
emit, and settling it (ack / retry / dead-letter + fail) with onestep's event order.

Event order (onestep 1.x): success ``started, succeeded``; retry ``started, retried``;
terminal failure ``started, dead_lettered, failed`` (or ``started, failed`` without a
dead-letter sink); shutdown cancel ``started, cancelled, retried``; poison item
``dead_lettered, failed`` (never started). The runner emits ``fetched`` before these.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import functools
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from django_onestep.core.base import Delivery, Sink
from django_onestep.core.callbacks import call_flexible_async
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperationError, PoisonMessageError
from django_onestep.core.events import TaskEvent, TaskEventKind, new_event
from django_onestep.core.retry import (
    FailureInfo,
    FailureKind,
    RetryAction,
    RetryDecision,
    resolve_retry_action,
)
from django_onestep.core.runtime.child_call import run_in_child
from django_onestep.core.runtime.context import TaskContext
from django_onestep.core.runtime.outcome_log import DEAD_LETTER, FAIL, RETRY, OutcomeLog
from django_onestep.core.runtime.sinks import send_to_sink
from django_onestep.core.state import ScopedState

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["DeliveryExecutor"]

T = TypeVar("T")

_INVALID = object()
# A terminal outcome (dead letter, fail) whose write fails transiently is written again,
# at these delays; only after the last one does the item go back to run again.
_TERMINAL_WRITE_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


class DeliveryExecutor:
    def __init__(self, app: OneStepApp, task: TaskSpec, logger: logging.Logger) -> None:
        self.app = app
        self.task = task
        self.logger = logger
        self.state = ScopedState(app.state, f"{app.name}:{task.name}")
        self.source_name = task.source.name if task.source is not None else None
        self.is_async = task.is_async
        self._hub = app.runtime.hub
        self.outcome_log = OutcomeLog(app.name, task, logger)
        # Told when a handler has returned and only its ack is left to write: the
        # runner stops counting that delivery against the task's concurrency.
        self.handler_returned: Callable[[], None] | None = None

    # -- events -------------------------------------------------------------------------
    def _event(
        self,
        kind: TaskEventKind,
        delivery: Delivery,
        *,
        duration_s: float | None = None,
        failure: FailureInfo | None = None,
        meta: dict[str, Any] | None = None,
    ) -> TaskEvent:
        envelope = delivery.envelope
        if meta is None:
            source_meta = envelope.meta
            meta = copy.deepcopy(source_meta) if source_meta else {}
        return new_event(
            kind,
            self.app.name,
            self.task.name,
            self.source_name,
            envelope.attempts,
            duration_s,
            failure,
            meta,
        )

    async def _emit(self, kind: TaskEventKind, delivery: Delivery, **fields: Any) -> None:
        if self._hub.listening:
            pending = self._hub.dispatch(self._event(kind, delivery, **fields))
            if pending is not None:
                await pending

    def fetched_event(self, delivery: Delivery) -> TaskEvent:
        return self._event(TaskEventKind.FETCHED, delivery)

    # -- the delivery ---------------------------------------------------------------------
    async def execute(self, delivery: Delivery) -> None:
        if delivery.poison_reason is not None:
            await self._poison(delivery, delivery.poison_reason)
            return
        started_at = time.perf_counter()
        task = self.task
        ctx = TaskContext(
            app=self.app,
            task=task,
            delivery=delivery,
            logger=self.logger,
            state=self.state,
            loop=None if self.is_async else asyncio.get_running_loop(),  # for ctx.run_coroutine()
        )
        lingering: list[concurrent.futures.Future[Any]] = []
        started = acked = False
        try:
            await delivery.start_processing()
            started = True
            if self.is_async:
                current = asyncio.current_task()
                if current is not None:
                    delivery.cancel_on_abort(current)
            hub = self._hub
            if hub.listening and (pending := hub.dispatch(self._event(TaskEventKind.STARTED, delivery))):
                await pending
            hooks = task.hooks
            if hooks.before:
                for hook in hooks.before:
                    await call_flexible_async(hook, ctx, delivery.payload)
            if self.is_async:
                result = await self._call_async(ctx, delivery.payload)
            else:
                result = await self._call_sync(ctx, delivery.payload, lingering)
            if hooks.after_success:
                for hook in hooks.after_success:
                    await call_flexible_async(hook, ctx, delivery.payload, result)
            if self.handler_returned is not None:
                self.handler_returned()
            delivery.record_result(result, keep=task.store_result)
            if result is not None and task.emit:
                for sink in task.emit:
                    await send_to_sink(self.app, self.logger, sink, Envelope(body=result))
            await delivery.ack()
            acked = True
            self.outcome_log.succeeded(delivery, started_at)
            if hub.listening:
                event = self._event(
                    TaskEventKind.SUCCEEDED,
                    delivery,
                    duration_s=time.perf_counter() - started_at,
                    meta=self._succeeded_meta(delivery, result),
                )
                if pending := hub.dispatch(event):
                    await pending
        except asyncio.CancelledError:
            if acked:  # cancelled while reporting success: the item is already settled
                raise
            if started:
                await self._cancelled(delivery, started_at)
            else:  # cancelled before it began: give it back untouched
                await self._release(delivery)
            raise
        except TimeoutError as exc:
            await self._failed(ctx, delivery, exc, FailureKind.TIMEOUT, started_at)
        except Exception as exc:
            await self._failed(ctx, delivery, exc, FailureKind.ERROR, started_at)
        finally:
            if lingering:
                await self._hold_slot_until_thread_returns(lingering[0])

    async def _call_async(self, ctx: TaskContext, payload: Any) -> Any:
        timeout_s = self.task.timeout_s
        if timeout_s is None:  # no asyncio.timeout on the hot path: it costs ~10 us
            return await self.task.handler(ctx, payload)
        async with asyncio.timeout(timeout_s):
            return await self.task.handler(ctx, payload)

    async def _call_sync(
        self, ctx: TaskContext, payload: Any, lingering: list[concurrent.futures.Future[Any]]
    ) -> Any:
        if self.task.handler_path is not None:  # executor="process"
            return await run_in_child(self.app, self.task, ctx, payload)
        call: Callable[[], Any] = functools.partial(self.task.handler, ctx, payload)
        wrapper = self.app.sync_handler_wrapper
        if wrapper is not None:
            call = functools.partial(wrapper, call)
        thread_future = self.app.runtime.sync.get().submit(call)
        waiter = asyncio.wrap_future(thread_future)
        timeout_s = self.task.timeout_s
        try:
            if timeout_s is None:
                result = await waiter
            else:
                async with asyncio.timeout(timeout_s):
                    result = await waiter
        except TimeoutError:
            # The thread cannot be stopped; it keeps the slot until it returns. (On a
            # shutdown cancel the slot is not held: the worker is going away.)
            if not thread_future.done():
                lingering.append(thread_future)
            raise
        if inspect.isawaitable(result):  # e.g. a sync callable returning a coroutine
            result = await result
        return result

    async def _hold_slot_until_thread_returns(self, thread_future: concurrent.futures.Future[Any]) -> None:
        if thread_future.done():
            return
        self.logger.warning(
            "sync handler still running after its timeout; its slot stays busy until it returns",
            extra={"timeout_s": self.task.timeout_s},
        )
        try:
            await asyncio.shield(asyncio.wrap_future(thread_future))
        except asyncio.CancelledError:
            raise
        except BaseException:  # its outcome no longer matters: the delivery is settled
            pass

    # -- failure paths --------------------------------------------------------------------
    async def _release(self, delivery: Delivery) -> None:
        try:
            await delivery.release_unstarted()
        except Exception:
            self.logger.exception("releasing unstarted delivery failed")

    async def _cancelled(self, delivery: Delivery, started_at: float) -> None:
        failure = FailureInfo(kind=FailureKind.CANCELLED, exception_type="CancelledError", message="")
        duration_s = time.perf_counter() - started_at
        self.outcome_log.cancelled(delivery, failure, duration_s)
        await self._emit(TaskEventKind.CANCELLED, delivery, failure=failure, duration_s=duration_s)
        # Cancellation (shutdown past shutdown_timeout_s) bypasses the retry policy: the
        # item was interrupted, not failed, so it goes back to its source.
        await delivery.retry()
        await self._emit(TaskEventKind.RETRIED, delivery, failure=failure, duration_s=duration_s)

    async def _failed(
        self,
        ctx: TaskContext,
        delivery: Delivery,
        exc: Exception,
        kind: FailureKind,
        started_at: float,
    ) -> None:
        duration_s = time.perf_counter() - started_at
        failure = FailureInfo.from_exception(exc, kind=kind)
        delivery.record_failure(exc, failure)
        try:
            for hook in self.task.hooks.on_failure:
                try:
                    await call_flexible_async(hook, ctx, delivery.payload, failure)
                except Exception:
                    ctx.logger.exception(
                        "task failure hook failed",
                        extra={"task_hook": getattr(hook, "__name__", type(hook).__name__)},
                    )
        except asyncio.CancelledError:  # shutdown while a hook ran: hand the item back
            await delivery.retry()
            why = " (shutdown interrupted its failure hooks)"
            self.outcome_log.retrying(delivery, exc, failure, None, duration_s, why=why)
            raise
        action = self._decide(delivery, exc, failure)
        if action.decision is RetryDecision.RETRY:
            await delivery.retry(delay_s=action.delay_s)
            self.outcome_log.retrying(delivery, exc, failure, action.delay_s, duration_s)
            await self._emit(TaskEventKind.RETRIED, delivery, failure=failure, duration_s=duration_s)
            return
        held = await delivery.hold_after_failure(exc)
        if held is not None:
            self.outcome_log.gave_up(delivery, exc, failure, held, duration_s)
            await self._emit(TaskEventKind.FAILED, delivery, failure=failure, duration_s=duration_s)
            return
        decision = await self._terminal(delivery, exc, failure, duration_s)
        self.outcome_log.gave_up(delivery, exc, failure, decision, duration_s)

    def _decide(self, delivery: Delivery, exc: Exception, failure: FailureInfo) -> RetryAction:
        try:
            return resolve_retry_action(self.task.retry, delivery.envelope, exc, failure)
        except Exception:
            self.logger.exception("retry policy failed; treating the failure as terminal")
            return RetryAction(RetryDecision.FAIL)

    async def _poison(self, delivery: Delivery, reason: str) -> None:
        failure = FailureInfo(kind=FailureKind.ERROR, exception_type="PoisonMessageError", message=reason)
        try:
            decision = await self._terminal(delivery, PoisonMessageError(reason), failure, 0.0)
        except asyncio.CancelledError:
            await self._release(delivery)
            raise
        what = f"skipped a poison message ({reason})"
        self.outcome_log.gave_up(delivery, None, failure, decision, None, what=what)

    async def _terminal(
        self, delivery: Delivery, exc: Exception, failure: FailureInfo, duration_s: float
    ) -> str:
        """Dead-letter or fail the delivery; returns the decision taken (for the log line)."""
        settled = False
        try:
            sinks = self.app.dead_letter_sinks_for(self.task)
        except Exception:  # a broken dead_letter_factory must not lose the item
            self.logger.exception("dead-letter sink unavailable; retrying original delivery")
            await delivery.retry()
            await self._emit(TaskEventKind.RETRIED, delivery, failure=failure, duration_s=duration_s)
            return RETRY
        if sinks:
            envelope = self._dead_letter_envelope(delivery, failure)
            try:
                settled = await self._send_dead_letter(delivery, sinks, envelope)
            except asyncio.CancelledError:
                await delivery.retry()  # the dead letter may be incomplete: run it again
                raise
            except Exception:
                self.logger.exception("dead-letter publish failed; retrying original delivery")
                await delivery.retry()
                await self._emit(TaskEventKind.RETRIED, delivery, failure=failure, duration_s=duration_s)
                return RETRY
            await self._emit(TaskEventKind.DEAD_LETTERED, delivery, failure=failure, duration_s=duration_s)
        decision = DEAD_LETTER if sinks else FAIL
        if not settled:
            try:
                await self._write_terminal(lambda: delivery.fail(exc))
            except Exception:
                self.logger.exception("delivery fail action failed; retrying original delivery")
                await delivery.retry()
                decision = RETRY
        await self._emit(TaskEventKind.FAILED, delivery, failure=failure, duration_s=duration_s)
        return decision

    async def _send_dead_letter(
        self, delivery: Delivery, sinks: tuple[Sink, ...], envelope: Envelope
    ) -> bool:
        settled = False
        for sink in sinks:
            if not settled and await self._write_terminal(
                functools.partial(delivery.fail_to_dead_letter, sink, envelope)
            ):
                settled = True  # stored and settled atomically by the delivery itself
                continue
            await self._write_terminal(functools.partial(sink.send, envelope))
        return settled

    async def _write_terminal(self, write: Callable[[], Awaitable[T]]) -> T:
        """``await write()``, again after a transient connector error: the handler has run
        and its outcome is decided, so the write is what gets retried, not the handler."""
        for delay_s in _TERMINAL_WRITE_DELAYS_S:
            try:
                return await write()
            except ConnectorOperationError as exc:
                if not exc.kind.retryable:
                    raise
                self.logger.warning("writing a terminal outcome failed (%s); writing it again", exc)
            await asyncio.sleep(delay_s)
        return await write()

    def _dead_letter_envelope(self, delivery: Delivery, failure: FailureInfo) -> Envelope:
        current = delivery.envelope
        return Envelope(
            body={"payload": copy.deepcopy(current.body), "failure": failure.as_dict()},
            meta={
                "app": self.app.name,
                "task": self.task.name,
                "source": self.source_name,
                "original_meta": copy.deepcopy(current.meta),
                "original_attempts": current.attempts,
            },
            attempts=0,
        )

    # -- succeeded meta -------------------------------------------------------------------
    def _succeeded_meta(self, delivery: Delivery, result: Any) -> dict[str, Any]:
        meta = copy.deepcopy(delivery.envelope.meta) if delivery.envelope.meta else {}
        if isinstance(result, Mapping):
            notification = result.get("notification")
            if isinstance(notification, Mapping):
                clean = _json_safe(notification)
                if isinstance(clean, dict) and clean:
                    meta["notification"] = clean
        return meta


def _json_safe(value: Any) -> Any:
    """Keep only JSON-representable parts (str keys, finite floats), like onestep."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _INVALID
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str):
                clean = _json_safe(item)
                if clean is not _INVALID:
                    out[key] = clean
        return out
    if isinstance(value, list | tuple):
        return [clean for clean in (_json_safe(item) for item in value) if clean is not _INVALID]
    return _INVALID
