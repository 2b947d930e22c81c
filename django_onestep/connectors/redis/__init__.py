"""Redis Streams: ``RedisConnector(url).stream(name, ...)``. redis-py loads only when a stream opens."""

from __future__ import annotations

from django_onestep.connectors.redis.connector import PartitionedStream, RedisConnector, RedisStream
from django_onestep.connectors.redis.partition_registry import halted_partitions, quarantined_partitions

__all__ = [
    "PartitionedStream",
    "RedisConnector",
    "RedisStream",
    "halted_partitions",
    "quarantined_partitions",
]
