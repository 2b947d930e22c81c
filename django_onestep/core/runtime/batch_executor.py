"""Running one batch: the handler once with the list of payloads, then each item settled
on the paths a one-item delivery takes (the executor's), so retry policies, dead-letter
sinks, events and log lines are the same code for both.

Per item, events follow the one-item order: ``started`` for every item before the
handler, then ``succeeded`` / ``retried`` / ``dead_lettered, failed`` as each is settled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

from django_onestep.core.base import Delivery
from django_onestep.core.callbacks import call_flexible_async
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import OneStepError
from django_onestep.core.events import TaskEventKind
from django_onestep.core.retry import FailureInfo, FailureKind
from django_onestep.core.runtime import batch_context as outcomes
from django_onestep.core.runtime.batch_context import Batch, BatchContext, ItemOutcome
from django_onestep.core.runtime.context import TaskContext
from django_onestep.core.runtime.executor import DeliveryExecutor
from django_onestep.core.runtime.sinks import send_to_sink

__all__ = ["BatchExecutor"]

_WHY_ASKED = " (the batch handler asked for it)"


class BatchExecutor(DeliveryExecutor):
    async def execute_batch(self, deliveries: Sequence[Delivery]) -> None:
        runnable: list[Delivery] = []
        for delivery in deliveries:
            if delivery.poison_reason is not None:  # dead-lettered alone, never handed over
                await self._poison_or_release(delivery, deliveries)
            else:
                runnable.append(delivery)
        if not runnable:
            return
        started_at = time.perf_counter()
        batch = Batch(runnable)
        ctx = BatchContext(
            app=self.app,
            task=self.task,
            batch=batch,
            logger=self.logger,
            state=self.state,
            loop=None if self.is_async else asyncio.get_running_loop(),
        )
        lingering: list[concurrent.futures.Future[Any]] = []
        started_count = 0  # runnable[:started_count] have started
        handled = False
        try:
            for delivery in runnable:
                await delivery.start_processing()
                started_count += 1
                await self._emit(TaskEventKind.STARTED, delivery)
            payloads = batch.payloads
            hooks = self.task.hooks
            for hook in hooks.before:
                await call_flexible_async(hook, ctx, payloads)
            if self.is_async:
                result = await self._call_async(ctx, payloads)
            else:
                result = await self._call_sync(ctx, payloads, lingering)
            for after in hooks.after_success:
                await call_flexible_async(after, ctx, payloads, result)
            if result is not None and self.task.emit:
                for sink in self.task.emit:
                    await send_to_sink(self.app, self.logger, sink, Envelope(body=result))
            handled = True
            await self._gather(self._settle(batch, item.index, started_at) for item in batch)
        except asyncio.CancelledError:
            if not handled:  # shutdown: every item goes back, as a cancelled one-item run does
                for index, delivery in enumerate(runnable):
                    if index < started_count:
                        await self._cancelled(delivery, started_at)
                    else:
                        await self._release(delivery)
            raise
        except Exception as exc:  # the handler or a hook raised: the batch fails as a unit
            kind = FailureKind.TIMEOUT if isinstance(exc, TimeoutError) else FailureKind.ERROR
            await self._gather(
                self._failed(self._item_context(delivery), delivery, exc, kind, started_at)
                for delivery in runnable
            )
        finally:
            if lingering:
                await self._hold_slot_until_thread_returns(lingering[0])

    async def execute_one(self, delivery: Delivery) -> None:
        """A batch of one (a manual run from the controls)."""
        await self.execute_batch([delivery])

    async def _poison_or_release(self, delivery: Delivery, deliveries: Sequence[Delivery]) -> None:
        try:
            await self._poison(delivery, delivery.poison_reason or "")
        except asyncio.CancelledError:  # the rest never started: give them back
            for other in deliveries:
                if other is not delivery and other.poison_reason is None:
                    await self._release(other)
            raise

    async def _gather(self, settlements: Iterable[Coroutine[Any, Any, None]]) -> None:
        # Concurrently, so a source that group-commits (the database queue) settles a
        # batch in a few commits rather than one round trip per item. One item whose
        # settlement fails does not stop the others; it comes back by its lease.
        results = await asyncio.gather(*settlements, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self.logger.error("settling a batch item failed", exc_info=result)

    def _item_context(self, delivery: Delivery) -> TaskContext:
        """The one-item context the failure hooks get, as they would for a one-item task."""
        return TaskContext(
            app=self.app,
            task=self.task,
            delivery=delivery,
            logger=self.logger,
            state=self.state,
            loop=None if self.is_async else asyncio.get_running_loop(),
        )

    async def _settle(self, batch: Batch, index: int, started_at: float) -> None:
        delivery = batch[index].delivery
        outcome: ItemOutcome | None = batch.outcome(index)
        if outcome is None:
            await self._ack(delivery, started_at)
        elif outcome.action == outcomes.RETRY:
            await self._retry_asked(delivery, outcome.delay_s, started_at)
        elif outcome.action == outcomes.FAIL:
            assert outcome.exc is not None
            await self._failed(
                self._item_context(delivery), delivery, outcome.exc, FailureKind.ERROR, started_at
            )
        else:
            assert outcome.exc is not None
            await self._dead_letter_now(delivery, outcome.exc, started_at)

    async def _ack(self, delivery: Delivery, started_at: float) -> None:
        await delivery.ack()
        self.outcome_log.succeeded(delivery, started_at)
        await self._emit(TaskEventKind.SUCCEEDED, delivery, duration_s=time.perf_counter() - started_at)

    async def _retry_asked(self, delivery: Delivery, delay_s: float | None, started_at: float) -> None:
        duration_s = time.perf_counter() - started_at
        exc = RetryRequested("retry requested by the batch handler")
        failure = FailureInfo.from_exception(exc, kind=FailureKind.ERROR)
        await delivery.retry(delay_s=delay_s)
        self.outcome_log.retrying(delivery, exc, failure, delay_s, duration_s, why=_WHY_ASKED)
        await self._emit(TaskEventKind.RETRIED, delivery, failure=failure, duration_s=duration_s)

    async def _dead_letter_now(self, delivery: Delivery, exc: Exception, started_at: float) -> None:
        duration_s = time.perf_counter() - started_at
        failure = FailureInfo.from_exception(exc, kind=FailureKind.ERROR)
        decision = await self._terminal(delivery, exc, failure, duration_s)
        self.outcome_log.gave_up(delivery, exc, failure, decision, duration_s)


class RetryRequested(OneStepError):
    """What a ``ctx.batch.retry()`` is recorded as in events, logs and attempts."""
