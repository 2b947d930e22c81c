"""The three abstractions every transport implements: Source, Delivery and Sink.

Same shapes as onestep 1.x, so custom onestep sources and sinks work unchanged. The
extra hooks here (``poison_reason``, ``fail_to_dead_letter``) have defaults that keep
onestep behaviour; durable sources override them to be lossless. Leases are the
source's business: it renews them for the deliveries it has handed out.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Mapping
from typing import Any

from django_onestep.core.envelope import Envelope

__all__ = ["Delivery", "Sink", "Source"]


class Delivery(abc.ABC):
    """One fetched item. Exactly one of ``ack``/``retry``/``fail`` settles it."""

    #: Set by a source when the item must not run: undecodable bytes, a missing body,
    #: a job that killed its worker ``max_deliveries`` times. The runner then skips the
    #: handler and dead-letters it at once with this reason (PoisonMessageError).
    poison_reason: str | None = None

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        #: True once ack/retry/fail (or a dead-letter hand-off) took effect.
        self.is_settled = False

    def mark_settled(self) -> bool:
        """True the first time only: a delivery settles once, later calls are no-ops.

        Transports call it first in ack/retry/fail, because settling twice is harmful
        (a second ack of a RabbitMQ tag closes the channel; a second retry re-adds).
        """
        if self.is_settled:
            return False
        self.is_settled = True
        return True

    @property
    def payload(self) -> Any:
        return self.envelope.body

    def record_result(self, result: Any, *, keep: bool = True) -> None:
        """The handler's return value, just before ``ack``. ``keep`` is the task's
        ``store_result``: a source that stores results on its own (the database queue)
        keeps it only then; one that reports results back to its broker (a Step Functions
        activity) or collects them (batch submissions) uses it either way."""
        return None

    def record_failure(self, exc: BaseException, failure: Any) -> None:
        """The handler's exception and its ``FailureInfo``, before the retry policy
        settles the delivery: a source that reports or collects failures keeps them."""
        return None

    async def start_processing(self) -> None:
        """Called when a handler starts on this delivery (it is no longer 'unstarted')."""
        return None

    async def release_unstarted(self) -> None:
        """Give a fetched-but-never-started item back at once (graceful shutdown)."""
        return None

    async def fail_to_dead_letter(self, sink: Sink, envelope: Envelope) -> bool:
        """Settle as failed *and* store ``envelope`` in ``sink`` atomically, if possible.

        Return True when done (the runner then skips ``sink.send`` and ``fail``), False
        to let the runner send to the sink and then call ``fail``. A database queue whose
        dead letters live in the same database overrides this to use one transaction.
        """
        return False

    # Results, progress and abort: a source that stores them (DatabaseQueue) overrides
    # these; for the others a result, progress or abort request has nowhere to live.
    def set_progress(self, progress: Mapping[str, Any]) -> None:
        """Record ``{"current", "total", **meta}`` for whoever watches the job (thread-safe)."""
        return None

    def abort_requested(self) -> bool:
        """True once someone asked the running job to stop (``ctx.should_abort()``)."""
        return False

    def cancel_on_abort(self, task: asyncio.Task[Any]) -> None:
        """The runtime names the task running an async handler: an abort cancels it."""
        return None

    async def hold_after_failure(self, exc: Exception) -> str | None:
        """Keep a terminally failed item in its source instead of dead-lettering it.

        Return what was done (for the log line) when the source held it, settling the
        delivery itself (a partitioned stream's ``halt`` or ``quarantine`` policy parks
        the partition with the item still at its head), or None to dead-letter as usual.
        """
        return None

    @abc.abstractmethod
    async def ack(self) -> None:
        raise NotImplementedError

    @abc.abstractmethod
    async def retry(self, *, delay_s: float | None = None) -> None:
        """Put the item back; it comes again after ``delay_s`` with ``attempts + 1``."""
        raise NotImplementedError

    @abc.abstractmethod
    async def fail(self, exc: Exception | None = None) -> None:
        raise NotImplementedError


class Source(abc.ABC):
    """Where deliveries come from. Subclasses implement ``fetch``."""

    batch_size: int = 1
    poll_interval_s: float = 1.0
    supports_manual_run: bool = False
    fetch_is_cancel_safe: bool = True

    def __init__(self, name: str) -> None:
        self.name = name
        self._is_open = False

    @property
    def is_open(self) -> bool:
        return self._is_open

    @is_open.setter
    def is_open(self, value: bool) -> None:  # the runtime sets it around open()/close()
        self._is_open = value

    def _set_open_state(self, value: bool) -> None:
        self._is_open = value

    async def open(self) -> None:
        return None

    @abc.abstractmethod
    async def fetch(self, limit: int) -> list[Delivery]:
        """Return up to ``limit`` deliveries, or [] when nothing is due.

        Raise ConnectorOperationError for dependency failures so the runner can back
        off and try again instead of stopping the worker.
        """
        raise NotImplementedError

    async def close(self) -> None:
        return None


class Sink(abc.ABC):
    """Where envelopes go. Subclasses implement ``send``."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def open(self) -> None:
        return None

    @abc.abstractmethod
    async def send(self, envelope: Envelope) -> None:
        raise NotImplementedError

    async def publish(
        self,
        body: Any,
        *,
        meta: Mapping[str, Any] | None = None,
        attempts: int = 0,
    ) -> None:
        await self.send(Envelope(body=body, meta=dict(meta or {}), attempts=attempts))

    async def close(self) -> None:
        return None
