"""What a batch handler receives: ``ctx.batch``, the items and their per-item outcomes.

A batch handler is ``handler(ctx, payloads)``. Every item it does not mark is acked
when it returns; a raise settles the whole batch as failed. Marks are only recorded
while the handler runs and applied after it returns, so a handler that marks some
items and then raises still fails the batch as a unit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django_onestep.core.envelope import Envelope
from django_onestep.core.runtime.context import TaskContext
from django_onestep.core.state import ScopedState

if TYPE_CHECKING:
    from django_onestep.core.base import Delivery
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["Batch", "BatchContext", "BatchItem", "ItemOutcome"]


@dataclass(frozen=True)
class BatchItem:
    """One item of a batch: its position, payload and envelope (``attempts``, ``meta``)."""

    index: int
    delivery: Delivery

    @property
    def payload(self) -> Any:
        return self.delivery.payload

    @property
    def envelope(self) -> Envelope:
        return self.delivery.envelope

    @property
    def attempts(self) -> int:
        return self.delivery.envelope.attempts


@dataclass(frozen=True)
class ItemOutcome:
    """What the handler asked for one item: ``retry`` (with ``delay_s``), ``fail`` (the
    retry policy decides) or ``dead_letter`` (now, whatever the policy says)."""

    action: str
    exc: Exception | None = None
    delay_s: float | None = None


RETRY = "retry"
FAIL = "fail"
DEAD_LETTER = "dead_letter"


class Batch(Sequence[BatchItem]):
    """The items of one batch, in fetch order, and the outcomes the handler marked.

    ``retry(item, delay_s=...)`` hands the item back for another attempt (an attempt
    is counted; the retry policy is not asked). ``fail(item, exc)`` fails it as if a
    one-item handler had raised ``exc``: the task's retry policy retries it or
    dead-letters it. ``dead_letter(item, exc)`` dead-letters it at once. ``item`` is a
    :class:`BatchItem` or its index in ``payloads``. A later mark of the same item
    replaces an earlier one.
    """

    def __init__(self, deliveries: Sequence[Delivery]) -> None:
        self._items = tuple(BatchItem(index, delivery) for index, delivery in enumerate(deliveries))
        self._outcomes: dict[int, ItemOutcome] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[BatchItem]:
        return iter(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    @property
    def payloads(self) -> list[Any]:
        return [item.payload for item in self._items]

    def retry(self, item: BatchItem | int, *, delay_s: float | None = None) -> None:
        if delay_s is not None and (not isinstance(delay_s, int | float) or delay_s < 0):
            raise ValueError(f"ctx.batch.retry(): delay_s must be a number >= 0 or None, got {delay_s!r}")
        self._mark(item, ItemOutcome(RETRY, delay_s=None if delay_s is None else float(delay_s)))

    def fail(self, item: BatchItem | int, exc: Exception) -> None:
        self._mark(item, ItemOutcome(FAIL, exc=_exception("fail", exc)))

    def dead_letter(self, item: BatchItem | int, exc: Exception) -> None:
        self._mark(item, ItemOutcome(DEAD_LETTER, exc=_exception("dead_letter", exc)))

    def outcome(self, item: BatchItem | int) -> ItemOutcome | None:
        """The outcome marked for ``item`` so far; None means it will be acked."""
        return self._outcomes.get(self._index(item))

    def _mark(self, item: BatchItem | int, outcome: ItemOutcome) -> None:
        # A dict store is atomic: a sync handler may mark from its worker thread.
        self._outcomes[self._index(item)] = outcome

    def _index(self, item: BatchItem | int) -> int:
        if isinstance(item, BatchItem):
            if item.index >= len(self._items) or self._items[item.index] is not item:
                raise ValueError("ctx.batch: that item belongs to another batch")
            return item.index
        if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(self._items):
            return item
        raise ValueError(
            f"ctx.batch: item must be a BatchItem of this batch or an index 0..{len(self._items) - 1}, "
            f"got {item!r}"
        )


def _exception(method: str, exc: object) -> Exception:
    if not isinstance(exc, Exception):
        raise TypeError(f"ctx.batch.{method}(): exc must be an exception instance, got {exc!r}")
    return exc


class BatchContext(TaskContext):
    """A :class:`TaskContext` for a batch: everything but ``current`` and the row
    methods (a batch has no single current item), plus ``batch``."""

    __slots__ = ("batch",)

    def __init__(
        self,
        *,
        app: OneStepApp,
        task: TaskSpec,
        batch: Batch,
        logger: logging.Logger | None = None,
        state: ScopedState | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # ``delivery`` is the first item's, so code that only reads ctx.delivery.envelope
        # meta keeps working; ``current`` says what to use instead.
        super().__init__(
            app=app, task=task, delivery=batch[0].delivery, logger=logger, state=state, loop=loop
        )
        self.batch = batch

    @property
    def current(self) -> Envelope:
        raise RuntimeError(
            f"task {self.task.name!r} is a batch handler: there is no single current envelope "
            "(use ctx.batch[i].envelope)"
        )

    def _row_method(self, name: str, values: Any) -> Any:
        raise RuntimeError(f"{name}() needs one current row; task {self.task.name!r} is a batch handler")
