"""Redis Streams: ``RedisConnector(url).stream(name, ...)``. redis-py loads only when a stream opens."""

from __future__ import annotations

from django_onestep.connectors.redis.connector import PartitionedStream, RedisConnector, RedisStream

__all__ = ["PartitionedStream", "RedisConnector", "RedisStream"]
