"""A reserved chunk in a worker, and the deliveries the runtime runs for it.

``per="op"``: one ``OpDelivery`` per operation; the chunk settles once all of them
have (results in input order, whatever order they ran in). ``per="chunk"``: one
``ChunkDelivery`` whose payload is the list of operations and whose handler returns
the list of results. Any failed operation fails the chunk's attempt (its operations
not handed out yet are dropped), unless the submission collects errors, in which case
the error is that operation's result.

The runtime's retry policy does not apply here: an attempt is a chunk's, and the
submission's ``max_chunk_attempts`` is its failure budget.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Delivery, Sink
from django_onestep.core.envelope import Envelope
from django_onestep.submissions.reserve import ReservedChunk

if TYPE_CHECKING:
    from django_onestep.submissions.source import SubmissionSource

__all__ = ["ChunkDelivery", "HeldChunk", "OpDelivery", "describe_error"]


def describe_error(exc: BaseException | None) -> str:
    if exc is None:
        return "failed"
    return f"{type(exc).__name__}: {exc}"


class HeldChunk:
    """The outcomes of one reserved chunk's operations, until the chunk settles."""

    def __init__(self, source: SubmissionSource, chunk: ReservedChunk, ops: list[Any]) -> None:
        self.source = source
        self.chunk = chunk
        self.ops = ops
        self.results: list[Any] = [None] * len(ops)
        self.outstanding = len(ops)
        self.error: str | None = None
        self.released = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def op_succeeded(self, position: int, result: Any) -> None:
        self.results[position] = result
        await self._one_settled()

    async def op_failed(self, position: int, error: str) -> None:
        if self.chunk.collect_errors:
            self.results[position] = {"error": error}
        elif self.error is None:
            self.error = error
            # the attempt has failed: its operations not handed out yet need not run
            self.outstanding -= self.source.drop_unstarted(self)
        await self._one_settled()

    async def op_released(self) -> None:
        self.released = True
        await self._one_settled()

    async def chunk_succeeded(self, results: Any) -> None:
        if results is None:  # a handler run for its side effects: no result per operation
            results = [None] * len(self.ops)
        if not isinstance(results, list) or len(results) != len(self.ops):
            got = f"a list of {len(results)}" if isinstance(results, list) else type(results).__name__
            self.error = (
                f"TypeError: a per='chunk' handler of SubmissionSource({self.source.name!r}) must return "
                f"a list of {len(self.ops)} results (one per operation), got {got}"
            )
        else:
            self.results = results
        self.outstanding = 0
        await self._settle()

    async def chunk_failed(self, error: str) -> None:
        self.error = error
        self.outstanding = 0
        await self._settle()

    async def _one_settled(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            await self._settle()

    async def _settle(self) -> None:
        try:
            if self.released:
                await self.source.release(self)
            elif self.error is not None:
                await self.source.fail(self, self.error)
            else:
                await self.source.complete(self)
        finally:
            if not self.done.done():
                self.done.set_result(None)


class _HeldDelivery(Delivery):
    def __init__(self, held: HeldChunk, payload: Any) -> None:
        meta = {"submission_id": held.chunk.submission_id, "chunk_index": held.chunk.index}
        super().__init__(Envelope(body=payload, meta=meta, attempts=held.chunk.attempts - 1))
        self.held = held
        self.started = False
        self.result: Any = None
        self.exception: BaseException | None = None

    async def start_processing(self) -> None:
        self.started = True

    def record_result(self, result: Any, *, keep: bool = True) -> None:
        self.result = result  # a submission keeps every op's result: it is what it is for

    def record_failure(self, exc: BaseException, failure: Any) -> None:
        self.exception = exc

    async def fail_to_dead_letter(self, sink: Sink, envelope: Envelope) -> bool:
        await self.fail(None)  # the submission records the failure, not the dead letters
        return True


class OpDelivery(_HeldDelivery):
    """One operation of a reserved chunk."""

    def __init__(self, held: HeldChunk, position: int) -> None:
        super().__init__(held, held.ops[position])
        self.position = position

    def __repr__(self) -> str:
        return f"<OpDelivery {self.held.chunk.submission_id}[{self.held.chunk.index}][{self.position}]>"

    async def ack(self) -> None:
        if self.mark_settled():
            await self.held.op_succeeded(self.position, self.result)

    async def retry(self, *, delay_s: float | None = None) -> None:
        if self.mark_settled():
            await self.held.op_failed(self.position, describe_error(self.exception))

    async def fail(self, exc: Exception | None = None) -> None:
        if self.mark_settled():
            await self.held.op_failed(self.position, describe_error(self.exception or exc))

    async def release_unstarted(self) -> None:
        if not self.started and self.mark_settled():
            await self.held.op_released()


class ChunkDelivery(_HeldDelivery):
    """A whole chunk: the payload is its list of operations."""

    def __init__(self, held: HeldChunk) -> None:
        super().__init__(held, held.ops)

    def __repr__(self) -> str:
        return f"<ChunkDelivery {self.held.chunk.submission_id}[{self.held.chunk.index}]>"

    async def ack(self) -> None:
        if self.mark_settled():
            await self.held.chunk_succeeded(self.result)

    async def retry(self, *, delay_s: float | None = None) -> None:
        if self.mark_settled():
            await self.held.chunk_failed(describe_error(self.exception))

    async def fail(self, exc: Exception | None = None) -> None:
        if self.mark_settled():
            await self.held.chunk_failed(describe_error(self.exception or exc))

    async def release_unstarted(self) -> None:
        if not self.started and self.mark_settled():
            self.held.released = True
            await self.held.chunk_failed("released")
