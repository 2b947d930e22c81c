"""Which partitions this worker holds: the lease tick, handovers, and the exception policies.

Every ``tick_interval_s`` a worker refreshes its membership, renews its leases, lets go
of partitions that the table now gives to another worker (once nothing of them is in
flight), and takes the ones it should hold whose leases are free. ``halt`` and
``quarantine`` change what it holds too, so they live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from django_onestep.connectors.redis.partition_leases import (
    PartitionKeys,
    PartitionLeases,
    assigned_partitions,
)
from django_onestep.connectors.redis.partition_state import (
    ACTIVE,
    HALTED,
    RELEASING,
    BufferedEntry,
    PartitionState,
)

__all__ = ["PartitionOwnership"]

logger = logging.getLogger("django_onestep.connectors.redis.partitioned")


class PartitionOwnership:
    """Mixed into PartitionedStream, which provides what is declared here."""

    name: str
    group: str
    keys: PartitionKeys
    partitions: int
    exception_policy: str
    tick_interval_s: float
    owned: dict[int, PartitionState]
    quarantined: dict[int, dict[str, Any]]
    _client: Any
    _leases: PartitionLeases | None
    _stop_ticks: asyncio.Event
    _wake: asyncio.Event

    @property
    def worker_id(self) -> str:
        raise NotImplementedError

    async def _ready(self) -> Any:
        raise NotImplementedError

    async def _tick_loop(self) -> None:
        stop = self._stop_ticks
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.tick_interval_s)
            if stop.is_set():
                return
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: fetch reports it; leases expire if it lasts
                logger.warning("partitioned stream %r: lease tick failed: %s", self.name, exc)

    async def tick(self) -> None:
        """Renew, hand over and take partitions so that this worker holds its share."""
        await self._ready()
        leases = self._leases
        assert leases is not None  # made by _ready
        members = await leases.beat()
        self.quarantined = await leases.quarantined()
        wanted = assigned_partitions(members, self.worker_id, self.partitions) - set(self.quarantined)
        for partition, state in list(self.owned.items()):
            if not await leases.renew(partition, state.lease):
                self._lost(state, "its lease expired")
                continue
            if partition not in wanted and state.mode != RELEASING:
                state.mode = RELEASING
            if state.mode == RELEASING and state.in_flight == 0:
                del self.owned[partition]
                await leases.release(partition, state.lease)
                logger.info("partitioned stream %r: handed partition %d over", self.name, partition)
        for partition in sorted(wanted - set(self.owned)):
            lease = await leases.acquire(partition)
            if lease is None:
                continue  # still held by its previous owner until it lets go or expires
            await self._ensure_group(partition)
            self.owned[partition] = PartitionState(partition, lease)
            logger.info("partitioned stream %r: took partition %d (%s)", self.name, partition, lease)
        self._wake.set()

    async def _ensure_group(self, partition: int) -> None:
        try:
            await self._client.xgroup_create(self.keys.stream(partition), self.group, id="0", mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _lost(self, state: PartitionState, why: str) -> None:
        if self.owned.get(state.partition) is state:
            del self.owned[state.partition]
            logger.warning(
                "partitioned stream %r: lost partition %d (%s); its new owner replays what was not acked",
                self.name,
                state.partition,
                why,
            )

    async def apply_exception_policy(
        self, state: PartitionState, entry: BufferedEntry, exc: Exception
    ) -> str | None:
        """halt or quarantine the partition with ``entry`` at its head; None for skip."""
        if self.exception_policy == "skip":
            return None
        entry.in_flight = False
        reason = f"{type(exc).__name__}: {exc}"
        if self.exception_policy == "halt":
            state.mode = HALTED
            state.halted_reason = f"entry {entry.entry_id}: {reason}"
            return f"partition {state.partition} halted on entry {entry.entry_id} (exception_policy halt)"
        record = {
            "entry_id": entry.entry_id,
            "error": reason[:500],
            "worker": self.worker_id,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        leases = self._leases
        try:
            if leases is not None and await leases.quarantine(state.partition, state.lease, record):
                self.quarantined[state.partition] = record
        except Exception as write_error:  # Redis away: the event runs again when it is back
            logger.error(
                "partitioned stream %r: could not park partition %d (%s); it is let go instead",
                self.name,
                state.partition,
                write_error,
            )
        # hand nothing more out; the next tick lets go once the other keys in flight settled
        state.mode = RELEASING
        self._wake.set()
        return (
            f"partition {state.partition} quarantined on entry {entry.entry_id} (exception_policy quarantine)"
        )

    async def release_quarantine(self, partition: int) -> bool:
        """Let workers take ``partition`` again (its failed entry runs first)."""
        client = await self._ready()
        self.quarantined.pop(partition, None)
        return bool(await client.hdel(self.keys.quarantine, str(partition)))

    def readiness(self) -> dict[str, Any]:
        """What the worker's ``/readyz`` shows for this stream: quarantined partitions are
        listed (the others go on, so the worker stays ready); a halted one makes it not
        ready, since that partition waits for an operator."""
        status = self.local_status()
        return {
            "ok": not status["halted"],
            "quarantined": sorted(status["quarantined"]),
            "halted": sorted(status["halted"]),
        }

    def local_status(self) -> dict[str, Any]:
        """What this worker holds: owned, halted and quarantined partitions."""
        return {
            "stream": self.name,
            "worker": self.worker_id,
            "owned": sorted(p for p, s in self.owned.items() if s.mode == ACTIVE),
            "halted": {p: s.halted_reason for p, s in self.owned.items() if s.mode == HALTED},
            "quarantined": dict(self.quarantined),
        }
