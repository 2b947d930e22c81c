"""The partitioned streams open in this process, for readiness reports.

A worker's readiness (``/readyz``) and its logs ask ``quarantined_partitions()`` and
``halted_partitions()``: a partition parked by an exception policy is work that waits
for an operator, which a deployment should see without reading the logs.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_onestep.connectors.redis.partitioned import PartitionedStream

__all__ = ["halted_partitions", "open_partitioned_streams", "quarantined_partitions"]

_open: weakref.WeakSet[PartitionedStream] = weakref.WeakSet()


def register(stream: PartitionedStream) -> None:
    _open.add(stream)


def unregister(stream: PartitionedStream) -> None:
    _open.discard(stream)


def open_partitioned_streams() -> list[PartitionedStream]:
    return sorted(_open, key=lambda stream: stream.name)


def quarantined_partitions() -> list[dict[str, Any]]:
    """Every partition parked in Redis (by any worker) of the streams open here.

    Each: ``{"stream", "partition", "entry_id", "error", "worker", "at"}``; refreshed on
    every lease tick (at most a second old).
    """
    return [
        {"stream": stream.name, "partition": partition, **record}
        for stream in open_partitioned_streams()
        for partition, record in sorted(stream.quarantined.items())
    ]


def halted_partitions() -> list[dict[str, Any]]:
    """Partitions this worker halted (``exception_policy="halt"``): ``{"stream", "partition", "reason"}``."""
    return [
        {"stream": stream.name, "partition": partition, "reason": reason}
        for stream in open_partitioned_streams()
        for partition, reason in sorted(stream.local_status()["halted"].items())
    ]
