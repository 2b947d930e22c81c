"""A Redis stream read through a consumer group (Source) and written with XADD (Sink).

How the pieces fit (docs/connectors/redis.md explains the choices):

* fetch: first this consumer's own leftovers (a restarted worker with the same name),
  then entries other consumers left idle past ``claim_idle_s`` (XAUTOCLAIM: a dead
  worker's work), then due delayed retries are moved in, then new entries (XREADGROUP >).
* While an entry is fetched and not settled, a heartbeat resets its idle time, so a slow
  handler is never claimed by another worker; a dead worker stops heartbeating.
* ack/fail = XACK (batched); retry = atomically XACK + re-add a copy with attempts+1,
  at once or through a delay sorted set; nothing sleeps in a concurrency slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.broker_send import SyncSend, remember_queue
from django_onestep.connectors.codec import encode_envelope
from django_onestep.connectors.redis import scripts
from django_onestep.connectors.redis.classify import to_connector_error
from django_onestep.connectors.redis.delivery import Batcher
from django_onestep.connectors.redis.entries import decode_entry, entry_fields, read_reply_entries, text
from django_onestep.connectors.redis.stream_options import StreamOptions
from django_onestep.connectors.redis.stream_publish import StreamPublish
from django_onestep.connectors.redis.writer import StreamWriter
from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConnectorOperation, ConnectorOperationError

if TYPE_CHECKING:
    from django_onestep.connectors.redis.connector import RedisConnector

__all__ = ["RedisStream"]

logger = logging.getLogger("django_onestep.connectors.redis.connector")

_HEARTBEAT_CHUNK = 500  # ids per heartbeat script call
_MOVE_LIMIT = 500  # delayed retries moved per script call
_GC_INTERVAL_S = 300.0


class RedisStream(StreamPublish, StreamWriter, SyncSend, Source, Sink):  # type: ignore[misc]  # send: see SyncSend
    """Source and Sink over one stream and consumer group; built by ``RedisConnector.stream``."""

    fetch_is_cancel_safe = False  # a cancelled XREADGROUP may already have claimed entries

    def __init__(self, connector: RedisConnector, options: StreamOptions) -> None:
        Source.__init__(self, options.name)
        Sink.__init__(self, options.name)
        self.connector = connector
        self.options = options
        self.group = options.group
        self.consumer = options.consumer
        self.batch_size = options.batch_size
        self.poll_interval_s = options.poll_interval_s
        self.delayed_key = f"{options.name}:onestep:delayed"
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scripts: dict[str, Any] = {}
        self._group_ready = False
        self._own_recovered = False
        self._inflight: dict[str, None] = {}
        self._acks: Batcher[str] = Batcher(self._xack)
        self._sends: Batcher[bytes] = Batcher(self._xadd_pipelined)
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._stop_heartbeat = asyncio.Event()
        self._sweep_cursor = "0-0"
        self._next_sweep_at = 0.0
        self._next_move_at = 0.0
        self._next_gc_at = 0.0
        self._failures = 0
        self._local_delayed: list[float] = []  # monotonic due times of our delayed retries
        remember_queue(self)

    def __repr__(self) -> str:
        return f"RedisStream(name={self.name!r}, group={self.group!r}, consumer={self.consumer!r})"

    # -- connection ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._client is None:
            self._client = await self.connector.acquire()
            self._loop = asyncio.get_running_loop()
            self._scripts = {
                name: self._client.register_script(getattr(scripts, name))
                for name in (
                    "ADD_MANY",
                    "CLAIM_IDLE",
                    "CLAIM_OWN",
                    "DEAD_LETTER",
                    "REQUEUE",
                    "MOVE_DUE",
                    "HEARTBEAT",
                    "GC_CONSUMERS",
                )
            }
        self._set_open_state(True)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        same_loop = self._loop is loop
        task, self._heartbeat_task = self._heartbeat_task, None
        if task is not None and task.get_loop() is loop:
            self._stop_heartbeat.set()
            await asyncio.wait({task}, timeout=self.options.heartbeat_interval_s + 5.0)
            task.cancel()
        await self._acks.drain()
        await self._sends.drain()
        if self._client is not None:
            self._client = None
            self._scripts = {}
            if same_loop:  # a client of an ended loop was already dropped by the connector
                await self.connector.release()
        self._group_ready = False
        self._set_open_state(False)

    async def _ready(self) -> Any:
        if self._client is not None and self._loop is not asyncio.get_running_loop():
            # Used from a new event loop (sync callers wrapping each call in its own loop):
            # the old loop's client and tasks are unusable; server state is kept.
            self._client = None
            self._scripts = {}
            self._heartbeat_task = None
        if self._client is None:
            await self.open()
        return self._client

    def _error(self, exc: BaseException, operation: ConnectorOperation) -> ConnectorOperationError | None:
        self._failures += 1
        # capped exponential backoff with jitter, so many workers do not reconnect in step
        delay_s = min(self.options.backoff_max_s, 0.05 * 2 ** min(self._failures - 1, 16))
        error = to_connector_error(
            exc,
            operation=operation,
            source_name=self.name,
            tokens=self.connector.secret_tokens,
            retry_delay_s=delay_s * random.uniform(0.8, 1.2),
        )
        if error is not None and "NOGROUP" in str(exc):
            self._group_ready = False  # stream or group deleted (or a Redis without AOF restarted)
        return error

    def _recovered(self) -> None:
        if self._failures:
            logger.info("redis stream %r: reconnected after %d failed operations", self.name, self._failures)
            self._failures = 0

    async def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing; an existing one is kept."""
        client = await self._ready()
        try:
            await client.xgroup_create(self.name, self.group, id=self.options.start_id, mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # -- Source -------------------------------------------------------------------------

    async def fetch(self, limit: int) -> list[Delivery]:
        count = max(1, min(limit, self.batch_size))
        try:
            client = await self._ready()
            if not self._group_ready:
                await self.ensure_group()
            if self._heartbeat_task is None:
                self._stop_heartbeat = asyncio.Event()
                self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())
            # Return [] only after a full block_s, as a blocking read would: runners poll
            # again at once after a long fetch but pause after a short empty one.
            deadline = time.monotonic() + self.options.block_s
            while True:
                deliveries = await self._fetch_recovered(count)
                if not deliveries:
                    deliveries = await self._fetch_new(client, count, deadline)
                if deliveries or time.monotonic() >= deadline:
                    break
        except ConnectorOperationError:
            raise
        except Exception as exc:
            error = self._error(exc, ConnectorOperation.FETCH)
            if error is None:
                raise
            raise error from exc
        self._recovered()
        return deliveries

    async def _fetch_recovered(self, count: int) -> list[Delivery]:
        now = time.monotonic()
        if not self._own_recovered:
            rows = await self._scripts["CLAIM_OWN"](keys=[self.name], args=[self.group, self.consumer, count])
            if len(rows) < count:
                self._own_recovered = True
            if rows:
                logger.info(
                    "redis stream %r: took back %d entries of consumer %r",
                    self.name,
                    len(rows),
                    self.consumer,
                )
                return self._deliveries(rows)
        if self.options.consumer_gc_idle_s is not None and now >= self._next_gc_at:
            self._next_gc_at = now + _GC_INTERVAL_S
            await self.collect_dead_consumers()
        if now >= self._next_sweep_at:
            return await self._sweep(count, now)
        return []

    async def _sweep(self, count: int, now: float) -> list[Delivery]:
        min_idle_ms = int(self.options.claim_idle_s * 1000)
        cursor, rows, deleted = await self._scripts["CLAIM_IDLE"](
            keys=[self.name], args=[self.group, self.consumer, min_idle_ms, self._sweep_cursor, count]
        )
        self._sweep_cursor = text(cursor)
        if self._sweep_cursor == "0-0":  # scanned the whole pending list: rest a while
            self._next_sweep_at = now + self.options.sweep_interval_s
        if deleted:
            logger.warning(
                "redis stream %r: %d pending entries were trimmed away before being processed "
                "(maxlen too small for the backlog?)",
                self.name,
                len(deleted),
            )
        # An entry we still hold (event loop stalled past claim_idle_s) is ours again.
        rows = [row for row in rows if text(row[0]) not in self._inflight]
        if rows:
            logger.info(
                "redis stream %r: claimed %d entries idle > %ss",
                self.name,
                len(rows),
                self.options.claim_idle_s,
            )
        return self._deliveries(rows)

    async def _fetch_new(self, client: Any, count: int, deadline: float) -> list[Delivery]:
        now = time.monotonic()
        if now >= self._next_move_at:
            await self.move_due_retries()
            now = time.monotonic()
        # wake up in time for the next delayed-retry move and abandoned-entry sweep
        wait_s = max(0.0, min(deadline, self._next_move_at, self._next_sweep_at) - now)
        reply = await client.xreadgroup(
            self.group, self.consumer, {self.name: ">"}, count=count, block=max(1, int(wait_s * 1000))
        )
        return self._deliveries([(entry[0], entry[1], 1) for entry in read_reply_entries(reply)])

    async def move_due_retries(self) -> int:
        """Move delayed retries that are due into the stream; returns how many moved."""
        opts = self.options
        started = time.monotonic()
        moved, next_ms = await self._scripts["MOVE_DUE"](
            keys=[self.name, self.delayed_key],
            args=[_MOVE_LIMIT, opts.maxlen or 0, int(opts.approximate_trim)],
        )
        now = time.monotonic()
        if moved >= _MOVE_LIMIT:
            self._next_move_at = now
        elif next_ms >= 0:
            self._next_move_at = now + min(next_ms / 1000, self.poll_interval_s)
        else:
            self._next_move_at = now + self.poll_interval_s
        self._local_delayed = [due for due in self._local_delayed if due > started]
        return int(moved)

    def pending_count(self) -> int:
        """Delayed retries this worker scheduled that are not back in the stream yet.

        The runner's ``until_idle`` mode (``--once``) keeps going while this is non-zero.
        """
        return len(self._local_delayed)

    def _deliveries(self, rows: Iterable[Any]) -> list[Delivery]:
        out: list[Delivery] = []
        max_deliveries = self.options.max_deliveries
        for raw_id, raw_fields, raw_count in rows:
            entry_id = text(raw_id)
            out.append(decode_entry(self, entry_id, entry_fields(raw_fields), int(raw_count), max_deliveries))
            self._inflight[entry_id] = None
        return out

    # -- settling (called by RedisStreamDelivery) -----------------------------------------

    def abandon(self, entry_id: str) -> None:
        """Stop heartbeating an entry: it stays pending and is claimed after claim_idle_s."""
        self._inflight.pop(entry_id, None)

    async def _settle_call(self, call: Callable[[Any], Awaitable[Any]], operation: ConnectorOperation) -> Any:
        """Run a settle command, retrying through a short outage (a Redis restart).

        Safe to repeat: XACK is idempotent and REQUEUE only acts if its XACK removed the
        entry. The budget stays below claim_idle_s so another worker does not claim the
        entry meanwhile; past it the error surfaces and the entry is claimed later.
        """
        deadline = time.monotonic() + self.options.claim_idle_s / 2
        pause_s = 0.05
        while True:
            try:
                result = await call(await self._ready())
                self._recovered()
                return result
            except Exception as exc:
                error = self._error(exc, operation)
                if error is None:
                    raise
                remaining_s = deadline - time.monotonic()
                if not error.retryable or remaining_s <= 0:
                    raise error from exc
                await asyncio.sleep(min(pause_s, remaining_s))
                pause_s = min(pause_s * 2, 1.0)

    async def _xack(self, ids: list[str]) -> None:
        await self._settle_call(
            lambda client: client.xack(self.name, self.group, *ids), ConnectorOperation.ACK
        )

    async def settle_ack(self, entry_id: str, operation: ConnectorOperation) -> None:
        # Out of the heartbeat set first: if the XACK fails, the entry must become
        # claimable (it is redelivered: at-least-once) instead of being held forever.
        self._inflight.pop(entry_id, None)
        try:
            await self._acks.add(entry_id)
        except ConnectorOperationError as exc:
            if exc.operation is operation:
                raise
            raise ConnectorOperationError(
                backend=exc.backend,
                operation=operation,
                kind=exc.kind,
                source_name=exc.source_name,
                retry_delay_s=exc.retry_delay_s,
                cause=exc.cause,
                message=str(exc),
            ) from exc

    async def settle_requeue(
        self, entry_id: str, envelope: Envelope, delay_s: float, operation: ConnectorOperation
    ) -> None:
        self._inflight.pop(entry_id, None)
        opts = self.options
        delay_ms = max(0, round(delay_s * 1000))
        payload = encode_envelope(envelope)
        args = [self.group, entry_id, payload, delay_ms, opts.maxlen or 0, int(opts.approximate_trim)]
        await self._settle_call(
            lambda client: self._scripts["REQUEUE"](
                keys=[self.name, self.delayed_key], args=args, client=client
            ),
            operation,
        )
        if delay_ms:
            due = time.monotonic() + delay_s
            self._local_delayed.append(due)
            self._next_move_at = min(self._next_move_at, due)

    async def settle_to_dead_letter(self, entry_id: str, sink: object, envelope: Envelope) -> bool:
        """XACK + add ``envelope`` to ``sink`` in one script, when ``sink`` is a stream on
        the same server; False (the runner sends, then fails) for any other sink."""
        if not isinstance(sink, RedisStream) or sink.connector.url != self.connector.url:
            return False
        self._inflight.pop(entry_id, None)
        if not sink._group_ready:
            await sink.ensure_group()  # so a later replay (start_id "$") sees this letter
        payload = encode_envelope(envelope)
        dead = sink.options
        args = [self.group, entry_id, payload, dead.maxlen or 0, int(dead.approximate_trim)]
        await self._settle_call(
            lambda client: self._scripts["DEAD_LETTER"](
                keys=[self.name, sink.name], args=args, client=client
            ),
            ConnectorOperation.FAIL,
        )
        return True

    async def _heartbeat_loop(self) -> None:
        interval_s = self.options.heartbeat_interval_s
        stop = self._stop_heartbeat
        while not stop.is_set():
            # An event, not only cancel(): redis-py can swallow a cancel that lands
            # mid-command, and close() must never hang on this loop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
            if stop.is_set():
                return
            ids = list(self._inflight)
            for start in range(0, len(ids), _HEARTBEAT_CHUNK):
                chunk = ids[start : start + _HEARTBEAT_CHUNK]
                try:
                    lost = await self._scripts["HEARTBEAT"](
                        keys=[self.name], args=[self.group, self.consumer, *chunk]
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis away: fetch reports it; claims wait for us
                    logger.debug("redis stream %r: heartbeat failed: %s", self.name, type(exc).__name__)
                    break
                for raw_id in lost:
                    entry_id = text(raw_id)
                    if entry_id in self._inflight:
                        del self._inflight[entry_id]
                        logger.warning(
                            "redis stream %r: entry %s was claimed by another consumer", self.name, entry_id
                        )

    async def collect_dead_consumers(self) -> list[str]:
        """Delete consumers idle past ``consumer_gc_idle_s`` that hold nothing pending."""
        idle_s = self.options.consumer_gc_idle_s
        if idle_s is None:
            return []
        removed = await self._scripts["GC_CONSUMERS"](
            keys=[self.name], args=[self.group, self.consumer, int(idle_s * 1000)]
        )
        names = [text(name) for name in removed]
        if names:
            logger.info("redis stream %r: removed idle consumers %s", self.name, names)
        return names
