"""Redis Streams: ``RedisConnector(url).stream(name, ...)``. redis-py loads only when a stream opens."""

from __future__ import annotations

from django_onestep.connectors.redis.connector import RedisConnector, RedisStream

__all__ = ["RedisConnector", "RedisStream"]
