"""A key-ordered partitioned stream: ``RedisConnector(url).partitioned_stream(name, ...)``.

An event goes to one of ``partitions`` Redis streams (``name:0`` ...), chosen by the
stable hash of ``key(payload)`` (``partition_hash``). Each partition is read by one
worker at a time, the holder of its lease (``partition_leases``); partitions are spread
round robin over the live workers and move when one joins or leaves. Inside a partition
an event starts only after every earlier event of its key is settled
(``partition_state``), so per-key order holds across workers, handovers and crashes.

A worker hands a partition over only when nothing of it is in flight; what it read and
did not settle stays pending in the partition's consumer group under one consumer name
shared by all owners, and the next owner replays it first (XREADGROUP from ``0``).
A killed worker's partitions are taken once their leases expire (``lock_ttl_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.redis import partition_registry
from django_onestep.connectors.redis.classify import to_connector_error
from django_onestep.connectors.redis.delivery import Batcher
from django_onestep.connectors.redis.entries import text
from django_onestep.connectors.redis.partition_delivery import PartitionDelivery
from django_onestep.connectors.redis.partition_entries import buffered_entry, by_stream
from django_onestep.connectors.redis.partition_hash import partition_for
from django_onestep.connectors.redis.partition_leases import PartitionKeys, PartitionLeases
from django_onestep.connectors.redis.partition_ownership import PartitionOwnership
from django_onestep.connectors.redis.partition_state import RELEASING, BufferedEntry, PartitionState
from django_onestep.connectors.redis.partition_writer import PartitionWriter
from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError, ConnectorOperation, ConnectorOperationError
from django_onestep.core.validation import positive_int, positive_number

if TYPE_CHECKING:
    from django_onestep.connectors.redis.connector import RedisConnector

__all__ = ["EXCEPTION_POLICIES", "PartitionedStream"]

EXCEPTION_POLICIES = ("skip", "halt", "quarantine")
CONSUMER = "owner"  # one consumer name per partition, whoever owns it: see the docstring
_IDLE_READ_S = 0.05  # how often a worker with nothing ready looks for new entries


class PartitionedStream(PartitionWriter, PartitionOwnership, Source, Sink):
    """Source and Sink over ``partitions`` streams; built by ``RedisConnector.partitioned_stream``."""

    fetch_is_cancel_safe = False  # a cancelled XREADGROUP may have read entries

    def __init__(
        self,
        connector: RedisConnector,
        name: str,
        *,
        partitions: int,
        key: Callable[[Any], Any],
        group: str,
        lock_ttl_s: float,
        batch_size: int,
        poll_interval_s: float,
        exception_policy: str,
        worker_id: str | None,
    ) -> None:
        Source.__init__(self, name)
        Sink.__init__(self, name)
        positive_int("partitioned_stream partitions", partitions)
        positive_int("partitioned_stream batch_size", batch_size)
        positive_number("partitioned_stream lock_ttl_s", lock_ttl_s)
        positive_number("partitioned_stream poll_interval_s", poll_interval_s)
        if not callable(key):
            raise ConfigurationError(
                f"partitioned_stream key: must be a function of the payload, got {key!r}"
            )
        if exception_policy not in EXCEPTION_POLICIES:
            raise ConfigurationError(
                f"partitioned_stream exception_policy: must be one of skip, halt, quarantine; "
                f"got {exception_policy!r}"
            )
        self.connector = connector
        self.partitions = partitions
        self.key = key
        self.group = group
        self.lock_ttl_s = float(lock_ttl_s)
        self.batch_size = batch_size
        self.poll_interval_s = float(poll_interval_s)
        self.exception_policy = exception_policy
        self._given_worker_id = worker_id
        self._own_worker_id: tuple[int, str] | None = None
        self.keys = PartitionKeys(name, partitions)
        # renew well inside the lease; rebalance at least once a second
        self.tick_interval_s = min(1.0, self.lock_ttl_s / 3)
        self.owned: dict[int, PartitionState] = {}
        self.quarantined: dict[int, dict[str, Any]] = {}
        self._rotation = 0
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._leases: PartitionLeases | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._stop_ticks = asyncio.Event()
        self._wake = asyncio.Event()
        self._acks: Batcher[tuple[PartitionState, BufferedEntry]] = Batcher(self._flush_acks)
        self._sends: Batcher[tuple[int, bytes]] = Batcher(self._xadd)

    def __repr__(self) -> str:
        return f"PartitionedStream(name={self.name!r}, partitions={self.partitions})"

    def partition_of(self, payload: Any) -> int:
        return partition_for(self.key(payload), self.partitions)

    @property
    def worker_id(self) -> str:
        """This worker's member id: ``<host>-<pid>-<random>`` unless one was given.

        Made again in a forked child, so that a stream built before a fork does not make
        every child the same member (which would let two processes read one partition).
        """
        if self._given_worker_id:
            return self._given_worker_id
        pid = os.getpid()
        if self._own_worker_id is None or self._own_worker_id[0] != pid:
            self._own_worker_id = (pid, f"{socket.gethostname()}-{pid}-{uuid.uuid4().hex[:6]}")
        return self._own_worker_id[1]

    # -- connection -----------------------------------------------------------------------

    async def _ready(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is not None and self._loop is not loop:
            self._client, self._leases, self._tick_task = None, None, None  # an ended loop's
            self.owned = {}
        if self._client is None:
            self._client = await self.connector.acquire()
            self._loop = loop
            self._leases = PartitionLeases(self._client, self.keys, self.worker_id, self.lock_ttl_s)
            self._wake = asyncio.Event()
        return self._client

    async def open(self) -> None:
        await self._ready()
        partition_registry.register(self)
        self._set_open_state(True)

    async def close(self) -> None:
        """Stop ticking, hand every partition back, leave the member list."""
        task, self._tick_task = self._tick_task, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            self._stop_ticks.set()
            await asyncio.wait({task}, timeout=self.tick_interval_s + 5.0)
            task.cancel()
        await self._acks.drain()
        await self._sends.drain()
        leases = self._leases
        if leases is not None and self._loop is asyncio.get_running_loop():
            with contextlib.suppress(Exception):  # Redis away: the leases expire instead
                for state in list(self.owned.values()):
                    # a handler still running (shutdown timed out) keeps its key's lease
                    # until it expires: releasing it would let the key's next event start
                    if state.in_flight == 0:
                        await leases.release(state.partition, state.lease)
                await leases.leave()
            await self.connector.release()
        self.owned = {}
        self._client, self._leases = None, None
        partition_registry.unregister(self)
        self._set_open_state(False)

    def _error(self, exc: BaseException, operation: ConnectorOperation) -> ConnectorOperationError | None:
        return to_connector_error(
            exc, operation=operation, source_name=self.name, tokens=self.connector.secret_tokens
        )

    # -- Source -----------------------------------------------------------------------------

    async def fetch(self, limit: int) -> list[Delivery]:
        try:
            await self._ready()
            if self._tick_task is None or self._tick_task.done():
                await self.tick()  # own partitions before the first read
                self._stop_ticks = asyncio.Event()
                self._tick_task = asyncio.create_task(self._tick_loop())
            deadline = time.monotonic() + self.poll_interval_s
            while True:
                await self._read_ahead(deadline)
                ready = self._take_ready(limit)
                now = time.monotonic()
                if ready or now >= deadline:
                    return ready
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(_IDLE_READ_S, deadline - now))
        except ConnectorOperationError:
            raise
        except Exception as exc:
            error = self._error(exc, ConnectorOperation.FETCH)
            if error is None:
                raise
            raise error from exc

    def pending_count(self) -> int:
        """Retries waiting at their place in this worker's partitions.

        The runner's ``until_idle`` mode (``--once``, ``run_until_idle``) keeps going while
        this is non-zero, so a retry due in a moment is not left for the next run.
        """
        return sum(
            1
            for state in self.owned.values()
            for entry in state.buffer
            if not entry.in_flight and entry.due_at
        )

    def _take_ready(self, limit: int) -> list[Delivery]:
        out: list[Delivery] = []
        now = time.monotonic()
        states = list(self.owned.values())
        # start one partition further each time: a busy partition cannot starve the others
        self._rotation = (self._rotation + 1) % max(1, len(states))
        for state in states[self._rotation :] + states[: self._rotation]:
            for entry in state.take_ready(limit - len(out), now):
                out.append(PartitionDelivery(self, state, entry))
            if len(out) >= limit:
                break
        return out

    async def _read_ahead(self, deadline: float) -> None:
        """One XREADGROUP over every owned partition whose buffer is running low.

        A worker with nothing buffered, in flight or replaying waits in Redis (BLOCK, up
        to ``deadline``) instead of polling: no settle can make anything ready meanwhile.
        """
        wanted = {
            self.keys.stream(state.partition): state
            for state in self.owned.values()
            if state.wants_read(self.batch_size)
        }
        if not wanted:
            return
        client = self._client
        streams = {stream: state.cursor for stream, state in wanted.items()}
        idle = all(not state.buffer and state.cursor == ">" for state in self.owned.values())
        block_ms = int((deadline - time.monotonic()) * 1000) if idle else 0
        try:
            if block_ms > 0:
                reply = await client.xreadgroup(
                    self.group, CONSUMER, streams, count=self.batch_size, block=block_ms
                )
            else:
                reply = await client.xreadgroup(self.group, CONSUMER, streams, count=self.batch_size)
        except Exception as exc:
            if "NOGROUP" not in str(exc):
                raise
            # a partition stream was deleted (or a Redis without persistence restarted):
            # make the groups again and read on the next round
            for state in wanted.values():
                await self._ensure_group(state.partition)
            return
        read: dict[str, list[Any]] = {stream: [] for stream in wanted}
        for stream, entries in by_stream(reply):
            read.setdefault(stream, []).extend(entries)
        for stream, entries in read.items():
            state = wanted[stream]
            if self.owned.get(state.partition) is not state:
                continue  # lost or released while we read: the next owner replays these
            buffered = [buffered_entry(self.name, self.key, entry_id, fields) for entry_id, fields in entries]
            state.add(
                [entry for entry in buffered if entry is not None], text(entries[-1][0]) if entries else None
            )

    # -- settling (called by PartitionDelivery) ------------------------------------------------

    async def settle_done(self, state: PartitionState, entry: BufferedEntry) -> None:
        try:
            await self._acks.add((state, entry))
        except BaseException:
            # The ack may not have reached Redis: the entry stays pending there, and the
            # key's next event must not pass it. Hand nothing more out; the tick lets the
            # partition go once idle and takes it again, replaying its pending list in order.
            entry.in_flight = False
            state.mode = RELEASING
            raise
        else:
            state.remove(entry)
        finally:
            self._wake.set()

    def settle_retry(
        self, state: PartitionState, entry: BufferedEntry, delay_s: float, *, count_attempt: bool
    ) -> None:
        # stays at its place: the key's later entries wait for it
        if count_attempt:
            entry.envelope = Envelope(
                entry.envelope.body, dict(entry.envelope.meta), entry.envelope.attempts + 1
            )
        entry.due_at = time.monotonic() + max(0.0, delay_s)
        entry.in_flight = False
        self._wake.set()

    async def _flush_acks(self, items: list[tuple[PartitionState, BufferedEntry]]) -> None:
        by_partition: dict[int, tuple[PartitionState, list[str]]] = {}
        for state, entry in items:
            by_partition.setdefault(state.partition, (state, []))[1].append(entry.entry_id)
        leases = self._leases
        if leases is None:
            return
        acks = [(state, state.lease, ids) for state, ids in by_partition.values()]
        try:
            results = await leases.ack_many(self.group, [(s.partition, lease, ids) for s, lease, ids in acks])
        except Exception as exc:
            error = self._error(exc, ConnectorOperation.ACK)
            if error is None:
                raise
            raise error from exc
        for (state, _lease, ids), kept in zip(acks, results, strict=True):
            if not kept:
                self._lost(state, f"an ack of {len(ids)} entries was refused")
