"""Redis Streams connector: ``RedisConnector(url).stream(name, ...)``, onestep-compatible.

redis-py is imported only when a stream is opened, so declaring a connector (in
tasks.py, settings or YAML) works without the extra; opening one without it raises
``MissingExtraError`` naming ``pip install 'django-onestep[redis]'``.

Example::

    from django_onestep import OneStepApp, RedisConnector

    app = OneStepApp("redis-demo")
    redis = RedisConnector("redis://localhost:6379/0")
    jobs = redis.stream("jobs", group="workers", batch_size=100, poll_interval_s=0.5)

    @app.task(source=jobs, emit=redis.stream("processed"), concurrency=16)
    async def process_job(ctx, item):
        return {"job": item["job"], "status": "done"}
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from django_onestep.connectors.redis.classify import redact_url, secret_tokens
from django_onestep.connectors.redis.partitioned import PartitionedStream
from django_onestep.connectors.redis.stream import RedisStream
from django_onestep.connectors.redis.stream_options import StreamOptions
from django_onestep.connectors.settings_checks import checked_options, checked_url
from django_onestep.core.errors import ConfigurationError, MissingExtraError

__all__ = ["PartitionedStream", "RedisConnector", "RedisStream"]

_SCHEMES = ("redis://", "rediss://", "unix://")
# Defaults for the client unless the user's options say otherwise: a dead or stalled
# server is noticed (socket timeouts above any BLOCK we use) and a stale pooled
# connection after a server restart is replaced once before an error surfaces.
_DEFAULT_CLIENT_OPTIONS: dict[str, Any] = {
    "socket_timeout": 30.0,
    "socket_connect_timeout": 5.0,
    "health_check_interval": 15,
}


def _redis_asyncio() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:
        raise MissingExtraError("redis", "redis") from exc
    return redis_asyncio


class RedisConnector:
    """A Redis server (one client per event loop, shared by all its streams)."""

    def __init__(self, url: str, options: Mapping[str, Any] | None = None) -> None:
        self.url = checked_url("redis", url, _SCHEMES)
        # keys are checked when the client is built (redis-py is imported only then)
        self.options: dict[str, Any] = checked_options("redis", options)
        self.secret_tokens = secret_tokens(url, self.options)
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refs = 0

    def __repr__(self) -> str:
        return f"RedisConnector({redact_url(self.url)!r})"

    def stream(
        self,
        name: str,
        *,
        group: str = "onestep",
        consumer: str | None = None,
        batch_size: int = 100,
        poll_interval_s: float = 1.0,
        block_ms: int | None = None,
        start_id: str = "$",
        create_group: bool = True,
        maxlen: int | None = None,
        approximate_trim: bool = True,
        claim_idle_s: float = 30.0,
        heartbeat_interval_s: float | None = None,
        max_deliveries: int | None = 10,
        consumer_gc_idle_s: float | None = 3600.0,
        backoff_max_s: float = 5.0,
    ) -> RedisStream:
        """A stream usable as a task source and as a sink (see docs/connectors/redis.md).

        ``create_group`` is accepted for onestep compatibility; the group is always
        created when missing (an existing one, e.g. made by redis-cli, is kept as is).
        """
        del create_group
        options = StreamOptions.build(
            name,
            group=group,
            consumer=consumer,
            batch_size=batch_size,
            poll_interval_s=poll_interval_s,
            block_ms=block_ms,
            start_id=start_id,
            maxlen=maxlen,
            approximate_trim=approximate_trim,
            claim_idle_s=claim_idle_s,
            heartbeat_interval_s=heartbeat_interval_s,
            max_deliveries=max_deliveries,
            consumer_gc_idle_s=consumer_gc_idle_s,
            backoff_max_s=backoff_max_s,
        )
        timeout_s = self.options.get("socket_timeout", _DEFAULT_CLIENT_OPTIONS["socket_timeout"])
        if timeout_s is not None and options.block_s >= float(timeout_s):
            raise ConfigurationError(
                f"redis stream poll_interval_s/block_ms: the blocking read ({options.block_s}s) must be "
                f"shorter than the connector's socket_timeout ({timeout_s}s)"
            )
        return RedisStream(self, options)

    def partitioned_stream(
        self,
        name: str,
        *,
        partitions: int = 16,
        key: Callable[[Any], Any],
        group: str = "onestep",
        lock_ttl_s: float = 30.0,
        batch_size: int = 100,
        poll_interval_s: float = 1.0,
        exception_policy: str = "skip",
        worker_id: str | None = None,
    ) -> PartitionedStream:
        """Streams ``name:0`` ... processed in strict per-key order across workers
        (see docs/connectors/redis-partitions.md)."""
        return PartitionedStream(
            self,
            name,
            partitions=partitions,
            key=key,
            group=group,
            lock_ttl_s=lock_ttl_s,
            batch_size=batch_size,
            poll_interval_s=poll_interval_s,
            exception_policy=exception_policy,
            worker_id=worker_id,
        )

    # -- shared client ------------------------------------------------------------------

    async def acquire(self) -> Any:
        """The client for the running loop (created on first use); pair with ``release``."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            redis_asyncio = _redis_asyncio()
            try:
                client = redis_asyncio.Redis.from_url(self.url, **self._client_options())
                # Connections are made lazily: build one (no I/O) so a misspelt option is
                # reported now, naming the key, not as a TypeError from the first command.
                pool = client.connection_pool
                pool.connection_class(**pool.connection_kwargs)
            except TypeError as exc:
                raise ConfigurationError(f"redis options: not accepted by redis-py: {exc}") from None
            except ValueError as exc:  # a bad query parameter in the URL
                raise ConfigurationError(f"redis url {redact_url(self.url)!r}: {exc}") from None
            self._client = client
            self._loop = loop
            self._refs = 0
        self._refs += 1
        return self._client

    async def release(self) -> None:
        self._refs = max(0, self._refs - 1)
        if self._refs == 0:
            await self.close()

    async def close(self) -> None:
        client, self._client, self._loop = self._client, None, None
        self._refs = 0
        if client is not None:
            await client.aclose()

    def _client_options(self) -> dict[str, Any]:
        options = {**_DEFAULT_CLIENT_OPTIONS, **self.options}
        if "retry" not in options:
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialBackoff

            options["retry"] = Retry(ExponentialBackoff(cap=0.5, base=0.05), 1)
        return options
