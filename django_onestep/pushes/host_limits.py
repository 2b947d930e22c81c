"""Per-host rate limit (token bucket) and concurrency, in one worker process.

``ONESTEP["PUSH_HOST_LIMITS"]`` maps a host (or ``"*"``, the default for every other
host) to ``{"RATE_PER_S": 3, "BURST": 5, "CONCURRENCY": 4}``; a missing key means no
limit of that kind. The limits hold per worker process: N processes may reach a host
N times as fast. A delivery that cannot start soon gives its worker slot back and is
retried when its token is due, so one slow or throttled host cannot hold every slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["HostLimit", "HostLimiter", "TokenBucket", "parse_host_limits"]

_KEYS = ("RATE_PER_S", "BURST", "CONCURRENCY")
CONCURRENCY_RECHECK_S = 0.25


@dataclass(frozen=True)
class HostLimit:
    rate_per_s: float | None = None
    burst: int = 1
    concurrency: int | None = None


def _number(key: str, value: Any, *, integer: bool) -> Any:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ConfigurationError(f'ONESTEP["PUSH_HOST_LIMITS"]{key}: must be {kind}, got {value!r}')
    return value


def parse_host_limits(raw: Mapping[str, Any]) -> dict[str, HostLimit]:
    """``PUSH_HOST_LIMITS`` as ``HostLimit`` objects, with errors naming the key."""
    limits: dict[str, HostLimit] = {}
    for host, options in raw.items():
        where = f'["{host}"]'
        if not isinstance(options, Mapping):
            raise ConfigurationError(
                f'ONESTEP["PUSH_HOST_LIMITS"]{where}: must be a dict such as {{"RATE_PER_S": 3}}'
            )
        unknown = sorted(set(options) - set(_KEYS))
        if unknown:
            raise ConfigurationError(
                f'ONESTEP["PUSH_HOST_LIMITS"]{where}: unknown key {unknown[0]!r} (known: {", ".join(_KEYS)})'
            )
        rate = options.get("RATE_PER_S")
        burst = options.get("BURST", 1)
        concurrency = options.get("CONCURRENCY")
        limits[str(host).lower()] = HostLimit(
            rate_per_s=None
            if rate is None
            else float(_number(f'{where}["RATE_PER_S"]', rate, integer=False)),
            burst=_number(f'{where}["BURST"]', burst, integer=True),
            concurrency=None
            if concurrency is None
            else _number(f'{where}["CONCURRENCY"]', concurrency, integer=True),
        )
    return limits


class TokenBucket:
    """``burst`` tokens, refilled at ``rate_per_s``; ``reserve`` takes one if due soon."""

    def __init__(self, rate_per_s: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self, max_wait_s: float) -> float | None:
        """Take a token: the seconds to wait before using it, or None (not within ``max_wait_s``).

        Tokens may go negative: each reservation queues behind the earlier ones.
        """
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate_per_s)
            self._stamp = now
            wait_s = max(0.0, (1.0 - self._tokens) / self.rate_per_s)
            if wait_s > max_wait_s:
                return None
            self._tokens -= 1.0
            return wait_s

    def due_in_s(self) -> float:
        """Seconds until a token is free (for a delivery that was refused one)."""
        with self._lock:
            now = self._clock()
            tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate_per_s)
            return max(0.0, (1.0 - tokens) / self.rate_per_s)


class HostLimiter:
    """The buckets and concurrency counters of every host this process pushes to."""

    def __init__(
        self, limits: Mapping[str, HostLimit], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def limit_for(self, host: str) -> HostLimit:
        return self._limits.get(host) or self._limits.get("*") or HostLimit()

    def try_start(self, host: str, *, max_wait_s: float) -> float | None:
        """Start a request to ``host``: seconds to wait first, or None (retry later; see ``retry_in_s``)."""
        limit = self.limit_for(host)
        with self._lock:
            running = self._running.get(host, 0)
            if limit.concurrency is not None and running >= limit.concurrency:
                return None
            wait_s = 0.0
            if limit.rate_per_s is not None:
                bucket = self._buckets.get(host)
                if bucket is None:
                    bucket = self._buckets[host] = TokenBucket(
                        limit.rate_per_s, limit.burst, clock=self._clock
                    )
                reserved = bucket.reserve(max_wait_s)
                if reserved is None:
                    return None
                wait_s = reserved
            self._running[host] = running + 1
            return wait_s

    def finish(self, host: str) -> None:
        with self._lock:
            self._running[host] = max(0, self._running.get(host, 0) - 1)

    def retry_in_s(self, host: str) -> float:
        """When a refused start is worth trying again: its token's time, or a short recheck
        for a host at its concurrency (a request's end is not signalled across deliveries)."""
        bucket = self._buckets.get(host)
        due = bucket.due_in_s() if bucket is not None else 0.0
        return max(CONCURRENCY_RECHECK_S, due)
