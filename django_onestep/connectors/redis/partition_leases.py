"""Who owns which partition of a partitioned stream: members, leases and fencing in Redis.

Keys, for a stream ``name`` (all strings in the same database as the streams):

* ``name:onestep:members``: a sorted set, worker id -> the server time (ms) its
  membership expires. Each worker refreshes it every tick; a killed worker drops out
  once it expires.
* ``name:onestep:lease:<p>``: ``"<worker id>|<token>"``, set NX with a PX expiry of
  ``lock_ttl_s``. Only the holder reads partition ``p``.
* ``name:onestep:fence:<p>``: a counter; each new lease takes the next token, so a lease
  taken again after it expired never equals the one before.
* ``name:onestep:quarantine``: a hash, partition -> why it was parked (JSON).

Every ack goes through ``FENCED_ACK``: it compares the lease with the value this worker
took, and acks only if they are equal, in one script. A worker that stalled past its
lease and lost the partition cannot ack into it; the new owner replays the entry.
All times are the server's (``TIME``), so workers with skewed clocks agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django_onestep.connectors.redis.entries import text

__all__ = ["PartitionKeys", "PartitionLeases", "assigned_partitions"]

_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# KEYS: members. ARGV: worker id, ttl ms. Returns the live members, sorted.
MEMBER_BEAT = (
    _NOW
    + """
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
)

# KEYS: lease, fence. ARGV: worker id, ttl ms.
# Returns the lease value when this worker holds it (newly or already), else false.
ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  if string.sub(current, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. '|' then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
    return current
  end
  return false
end
local token = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. token
redis.call('SET', KEYS[1], value, 'PX', tonumber(ARGV[2]))
return value
"""

# KEYS: lease. ARGV: value, ttl ms. 1 = renewed, 0 = lost.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
"""

# KEYS: lease. ARGV: value. 1 = released, 0 = it was not ours any more.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# KEYS: lease, stream. ARGV: value, group, entry ids. Entries acked, or -1 = lease lost.
FENCED_ACK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
return redis.call('XACK', KEYS[2], ARGV[2], unpack(ARGV, 3))
"""

# FENCED_ACK for several partitions in one call. KEYS: lease, stream, lease, stream...
# ARGV: group, then per partition: value, count, that many entry ids. One result each.
FENCED_ACK_MANY = """
local results = {}
local at = 2
for i = 1, #KEYS, 2 do
  local value, count = ARGV[at], tonumber(ARGV[at + 1])
  local ids = {}
  for j = 1, count do ids[j] = ARGV[at + 1 + j] end
  at = at + 2 + count
  if redis.call('GET', KEYS[i]) ~= value then
    results[#results + 1] = -1
  else
    results[#results + 1] = redis.call('XACK', KEYS[i + 1], ARGV[1], unpack(ids))
  end
end
return results
"""

# KEYS: lease, quarantine. ARGV: value, partition, reason JSON. 1 = parked, -1 = lease lost.
# The lease stays: its holder lets go once the partition's other keys in flight are acked.
QUARANTINE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: members. ARGV: worker id.
LEAVE = """
return redis.call('ZREM', KEYS[1], ARGV[1])
"""


class PartitionKeys:
    """The Redis key names of one partitioned stream."""

    def __init__(self, name: str, partitions: int) -> None:
        self.name = name
        self.partitions = partitions
        self.members = f"{name}:onestep:members"
        self.quarantine = f"{name}:onestep:quarantine"

    def stream(self, partition: int) -> str:
        return f"{self.name}:{partition}"

    def lease(self, partition: int) -> str:
        return f"{self.name}:onestep:lease:{partition}"

    def fence(self, partition: int) -> str:
        return f"{self.name}:onestep:fence:{partition}"


def assigned_partitions(members: Sequence[str], worker_id: str, partitions: int) -> set[int]:
    """The partitions ``worker_id`` should hold: round robin over the sorted live members.

    Every worker computes the same table from the same member list, so no coordinator
    is needed; a worker not (yet) in the list gets nothing.
    """
    ordered = sorted(members)
    if worker_id not in ordered:
        return set()
    index, count = ordered.index(worker_id), len(ordered)
    return {p for p in range(partitions) if p % count == index}


class PartitionLeases:
    """The lease operations of one worker on one partitioned stream (a registered script each)."""

    def __init__(self, client: Any, keys: PartitionKeys, worker_id: str, lock_ttl_s: float) -> None:
        self.keys = keys
        self.worker_id = worker_id
        self.ttl_ms = max(1, round(lock_ttl_s * 1000))
        self._client = client
        self._beat = client.register_script(MEMBER_BEAT)
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)
        self._ack = client.register_script(FENCED_ACK)
        self._ack_many = client.register_script(FENCED_ACK_MANY)
        self._quarantine = client.register_script(QUARANTINE)
        self._leave = client.register_script(LEAVE)

    async def beat(self) -> list[str]:
        """Refresh this worker's membership; the live members."""
        members = await self._beat(keys=[self.keys.members], args=[self.worker_id, self.ttl_ms])
        return [text(member) for member in members]

    async def leave(self) -> None:
        await self._leave(keys=[self.keys.members], args=[self.worker_id])

    async def acquire(self, partition: int) -> str | None:
        keys = [self.keys.lease(partition), self.keys.fence(partition)]
        value = await self._acquire(keys=keys, args=[self.worker_id, self.ttl_ms])
        return text(value) if value else None

    async def renew(self, partition: int, value: str) -> bool:
        return bool(await self._renew(keys=[self.keys.lease(partition)], args=[value, self.ttl_ms]))

    async def release(self, partition: int, value: str) -> bool:
        return bool(await self._release(keys=[self.keys.lease(partition)], args=[value]))

    async def ack(self, partition: int, value: str, group: str, entry_ids: Sequence[str]) -> bool:
        """XACK ``entry_ids`` if this worker still holds the lease; False if it lost it."""
        keys = [self.keys.lease(partition), self.keys.stream(partition)]
        return int(await self._ack(keys=keys, args=[value, group, *entry_ids])) >= 0

    async def ack_many(self, group: str, acks: Sequence[tuple[int, str, Sequence[str]]]) -> list[bool]:
        """``ack`` for several partitions (partition, lease, ids) in one round trip."""
        keys: list[str] = []
        args: list[str | int] = [group]
        for partition, value, ids in acks:
            keys += [self.keys.lease(partition), self.keys.stream(partition)]
            args += [value, len(ids), *ids]
        results = await self._ack_many(keys=keys, args=args)
        return [int(result) >= 0 for result in results]

    async def quarantine(self, partition: int, value: str, reason: dict[str, Any]) -> bool:
        """Park ``partition``: no worker takes it once this one lets go; False if the lease was lost."""
        keys = [self.keys.lease(partition), self.keys.quarantine]
        args = [value, str(partition), json.dumps(reason, sort_keys=True)]
        return int(await self._quarantine(keys=keys, args=args)) > 0

    async def quarantined(self) -> dict[int, dict[str, Any]]:
        raw = await self._client.hgetall(self.keys.quarantine)
        return {int(text(p)): json.loads(text(reason)) for p, reason in raw.items()}
