"""``SubmissionSource``: the consumer side of batch submissions.

``@app.task(source=SubmissionSource("thumbnails"))`` runs one operation per call;
``SubmissionSource("thumbnails", per="chunk")`` hands the handler a chunk's list of
operations and expects the list of their results back. Each ``fetch`` reserves one
chunk (by the source's strategy) when it has nothing buffered; the reservations a
worker holds are extended every ``lease_s / 3`` while they run, and expired ones (any
worker's) are swept back every ``lease_s / 4``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from typing import Any

from django_onestep.conf import get_settings
from django_onestep.core.base import Delivery, Source
from django_onestep.core.errors import ConfigurationError, ConnectorOperation
from django_onestep.core.validation import non_negative_number, positive_number
from django_onestep.orm.dbthread import DBThread, acquire_thread, release_thread, repeat_every
from django_onestep.submissions import chunk_rows
from django_onestep.submissions.deliveries import ChunkDelivery, HeldChunk, OpDelivery
from django_onestep.submissions.payload_files import load_payload
from django_onestep.submissions.reserve import ReservedChunk, reserve_chunk
from django_onestep.submissions.strategies import resolve_strategy

__all__ = ["SubmissionSource"]

logger = logging.getLogger("django_onestep.submissions")

_PER = ("op", "chunk")


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


class SubmissionSource(Source):
    """Chunks of the submissions made with ``submit(<this source or its name>, ...)``."""

    supports_manual_run = False
    # a reservation taken while the runner cancels would wait a lease for nothing:
    # the runner lets fetch end and gives back what it returned instead
    fetch_is_cancel_safe = False

    def __init__(
        self,
        name: str,
        *,
        per: str = "op",
        strategy: Any = "oldest",
        lease_s: float | None = None,
        poll_interval_s: float | None = None,
        retry_delay_s: float = 0.0,
        using: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not 0 < len(name) <= 100:
            raise ConfigurationError(
                f"SubmissionSource: name must be a string of 1 to 100 characters, got {name!r}"
            )
        if per not in _PER:
            raise ConfigurationError(f"SubmissionSource({name!r}): per must be 'op' or 'chunk', got {per!r}")
        super().__init__(name)
        self.per = per
        self.strategy = resolve_strategy(f"SubmissionSource({name!r})", strategy)
        self.using: str = using or get_settings().DATABASE
        self.lease_s = positive_number(
            f"SubmissionSource({name!r}) lease_s", lease_s or get_settings().LEASE_S
        )
        self.poll_interval_s = positive_number(
            f"SubmissionSource({name!r}) poll_interval_s", poll_interval_s or get_settings().POLL_INTERVAL_S
        )
        self.retry_delay_s = non_negative_number(f"SubmissionSource({name!r}) retry_delay_s", retry_delay_s)
        self.batch_size = 1 if per == "chunk" else 1000
        self._claim_thread: DBThread | None = None
        self._write_thread: DBThread | None = None
        self._held: dict[int, HeldChunk] = {}
        self._ready: deque[Delivery] = deque()
        self._lease_task: asyncio.Task[None] | None = None
        self._delayed_due: dict[int, float] = {}  # chunk id -> loop time its retry delay ends
        self._next_sweep_at = 0.0

    def __repr__(self) -> str:
        return f"SubmissionSource({self.name!r}, per={self.per!r}, strategy={self.strategy!s})"

    # ----- lifecycle -----------------------------------------------------------------

    def _threads(self) -> tuple[DBThread, DBThread]:
        if self._claim_thread is None or self._write_thread is None:
            self._claim_thread = acquire_thread(self.using, "claim")
            self._write_thread = acquire_thread(self.using, "write")
        return self._claim_thread, self._write_thread

    async def open(self) -> None:
        if self.is_open:
            return
        self._threads()
        self._lease_task = asyncio.create_task(
            repeat_every(
                self.lease_s / 3,
                self._extend,
                logger=logger,
                failure=f"extending the reservations of {self!r} failed; retrying",
            ),
            name=f"onestep-submission-lease-{self.name}",
        )
        self._set_open_state(True)

    async def close(self) -> None:
        """Give back what was fetched but never started, let held chunks settle, stop."""
        while self._ready:
            with contextlib.suppress(Exception):
                await self._ready.popleft().release_unstarted()
        pending = [held.done for held in self._held.values()]
        if pending:
            await asyncio.wait(pending, timeout=self.lease_s)
        if self._lease_task is not None:
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._lease_task
            self._lease_task = None
        threads = [t for t in (self._claim_thread, self._write_thread) if t is not None]
        self._claim_thread = self._write_thread = None
        for thread in threads:
            await asyncio.to_thread(release_thread, thread)
        self._set_open_state(False)

    # ----- fetch ---------------------------------------------------------------------

    async def fetch(self, limit: int) -> list[Delivery]:
        if not self.is_open:
            await self.open()
        if not self._ready:
            held = await self._reserve()
            if held is None:
                await asyncio.sleep(self.poll_interval_s)
                return []
            if self.per == "chunk":
                self._ready.append(ChunkDelivery(held))
            else:
                self._ready.extend(OpDelivery(held, position) for position in range(len(held.ops)))
        count = max(1, min(int(limit), len(self._ready)))
        return [self._ready.popleft() for _ in range(count)]

    def drop_unstarted(self, held: HeldChunk) -> int:
        """Forget ``held``'s deliveries not handed to the runner yet; how many."""
        dropped = [d for d in self._ready if isinstance(d, OpDelivery) and d.held is held]
        if dropped:
            self._ready = deque(d for d in self._ready if not (isinstance(d, OpDelivery) and d.held is held))
            for delivery in dropped:
                delivery.mark_settled()
        return len(dropped)

    async def _reserve(self) -> HeldChunk | None:
        claim_thread = self._threads()[0]
        loop = asyncio.get_running_loop()
        if loop.time() >= self._next_sweep_at:
            self._next_sweep_at = loop.time() + max(self.lease_s / 4, 0.25)
            await claim_thread.run(
                lambda: chunk_rows.reclaim_expired(self.using, self.name, _now()),
                operation=ConnectorOperation.FETCH, source_name=self.name,
            )  # fmt: skip
        token = uuid.uuid4().hex

        def work() -> tuple[ReservedChunk, list[Any]] | None:
            chunk = reserve_chunk(
                self.using, self.name, self.strategy, token=token, lease_s=self.lease_s, now=_now()
            )
            if chunk is None:
                return None
            return chunk, load_payload(chunk.payload, chunk.payload_file)

        reserved = await claim_thread.run(work, operation=ConnectorOperation.FETCH, source_name=self.name)
        if reserved is None:
            return None
        chunk, ops = reserved
        self._delayed_due.pop(chunk.id, None)
        held = HeldChunk(self, chunk, ops)
        self._held[chunk.id] = held
        return held

    # ----- settlement (called by HeldChunk once every delivery of a chunk settled) -----

    async def complete(self, held: HeldChunk) -> bool:
        chunk = held.chunk
        return await self._write(
            ConnectorOperation.ACK,
            held,
            lambda: chunk_rows.complete_chunk(
                self.using,
                chunk_id=chunk.id,
                submission_id=chunk.submission_id,
                token=chunk.token,
                ops=chunk.ops,
                results=held.results,
                now=_now(),
            ),
        )

    async def fail(self, held: HeldChunk, error: str) -> bool:
        chunk = held.chunk
        self._note_delayed(chunk)
        return await self._write(
            ConnectorOperation.FAIL,
            held,
            lambda: chunk_rows.fail_chunk(
                self.using,
                chunk_id=chunk.id,
                token=chunk.token,
                error=error,
                now=_now(),
                retry_delay_s=self.retry_delay_s,
            ),
        )

    def _note_delayed(self, chunk: ReservedChunk) -> None:
        if self.retry_delay_s > 0 and chunk.attempts < chunk.max_attempts:
            delay_s = chunk_rows.retry_delay_after(chunk.attempts, self.retry_delay_s)
            self._delayed_due[chunk.id] = asyncio.get_running_loop().time() + delay_s

    def pending_count(self) -> int:
        """Chunks this worker failed that wait out their retry delay (``--once`` waits)."""
        if not self._delayed_due:
            return 0
        now = asyncio.get_running_loop().time()
        for chunk_id in [c for c, due in self._delayed_due.items() if due < now - self.lease_s]:
            del self._delayed_due[chunk_id]  # due long ago: another worker took it
        return len(self._delayed_due)

    async def release(self, held: HeldChunk) -> bool:
        chunk = held.chunk
        return await self._write(
            ConnectorOperation.RETRY,
            held,
            lambda: chunk_rows.release_chunk(self.using, chunk_id=chunk.id, token=chunk.token),
        )

    async def _write(self, operation: ConnectorOperation, held: HeldChunk, fn: Any) -> bool:
        try:
            applied = bool(await self._threads()[1].run(fn, operation=operation, source_name=self.name))
        finally:
            self._held.pop(held.chunk.id, None)
        if not applied:
            logger.warning(
                "chunk %s of submission %s: its reservation was lost (expired, taken again or cancelled); "
                "this worker's outcome was not recorded",
                held.chunk.index,
                held.chunk.submission_id,
            )
        return applied

    async def _extend(self) -> None:
        held = [(chunk_id, h.chunk.token) for chunk_id, h in self._held.items()]
        thread = self._write_thread
        if not held or thread is None:
            return
        await thread.run(
            lambda: chunk_rows.extend_reservations(self.using, held, self.lease_s, _now()),
            operation=ConnectorOperation.HEARTBEAT, source_name=self.name,
        )  # fmt: skip
