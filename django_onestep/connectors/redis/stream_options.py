"""Validated settings of one Redis stream (every bad value is named in the error)."""

from __future__ import annotations

import os
import re
import socket
import threading
from dataclasses import dataclass
from typing import Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import (
    optional_positive_int,
    optional_positive_number,
    positive_int,
    positive_number,
)

__all__ = ["StreamOptions", "default_consumer_name"]

_START_ID = re.compile(r"\$|\d+(-\d+)?")  # what XGROUP CREATE accepts as the group's start
_names_lock = threading.Lock()
_names_taken: dict[tuple[str, str], int] = {}


def default_consumer_name(stream: str, group: str) -> str:
    """``<host>-<pid>`` (``-2``, ``-3`` for more readers of the same group in one process).

    Unique among live workers (a pid is not reused while its process lives), readable in
    XINFO CONSUMERS, and stable where it matters: a container restarted in the same pod
    gets the same hostname and pid 1, and takes its own pending entries back at once.
    """
    with _names_lock:
        n = _names_taken.get((stream, group), 0) + 1
        _names_taken[(stream, group)] = n
    base = f"{socket.gethostname()}-{os.getpid()}"
    return base if n == 1 else f"{base}-{n}"


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"redis stream {key}: must be a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class StreamOptions:
    name: str
    group: str
    consumer: str
    batch_size: int
    poll_interval_s: float
    block_s: float
    start_id: str
    maxlen: int | None
    approximate_trim: bool
    claim_idle_s: float
    heartbeat_interval_s: float
    sweep_interval_s: float
    max_deliveries: int | None
    consumer_gc_idle_s: float | None
    backoff_max_s: float

    @classmethod
    def build(
        cls,
        name: str,
        *,
        group: str,
        consumer: str | None,
        batch_size: int,
        poll_interval_s: float,
        block_ms: int | None,
        start_id: str,
        maxlen: int | None,
        approximate_trim: bool,
        claim_idle_s: float,
        heartbeat_interval_s: float | None,
        max_deliveries: int | None,
        consumer_gc_idle_s: float | None,
        backoff_max_s: float,
    ) -> StreamOptions:
        """Validate ``RedisConnector.stream()``'s arguments (its signature holds the defaults)."""
        _text("name", name)
        _text("group", group)
        if consumer is not None:
            _text("consumer", consumer)
        positive_int("redis stream batch_size", batch_size)
        positive_number("redis stream poll_interval_s", poll_interval_s)
        optional_positive_int("redis stream block_ms", block_ms)
        _text("start_id", start_id)
        if not _START_ID.fullmatch(start_id):
            raise ConfigurationError(
                f"redis stream start_id: must be '$', '0' or an entry id like '1700000000000-0', got {start_id!r}"
            )
        optional_positive_int("redis stream maxlen", maxlen)
        positive_number("redis stream claim_idle_s", claim_idle_s)
        optional_positive_number("redis stream heartbeat_interval_s", heartbeat_interval_s)
        optional_positive_int("redis stream max_deliveries", max_deliveries)
        optional_positive_number("redis stream consumer_gc_idle_s", consumer_gc_idle_s)
        positive_number("redis stream backoff_max_s", backoff_max_s)
        heartbeat_s = heartbeat_interval_s if heartbeat_interval_s is not None else claim_idle_s / 3
        if heartbeat_s >= claim_idle_s:
            raise ConfigurationError(
                f"redis stream heartbeat_interval_s: must be below claim_idle_s ({claim_idle_s}), got {heartbeat_s!r}"
            )
        if consumer_gc_idle_s is not None and consumer_gc_idle_s <= claim_idle_s:
            raise ConfigurationError(
                f"redis stream consumer_gc_idle_s: must exceed claim_idle_s ({claim_idle_s}), got {consumer_gc_idle_s!r}"
            )
        return cls(
            name=name,
            group=group,
            consumer=consumer or default_consumer_name(name, group),
            batch_size=batch_size,
            poll_interval_s=float(poll_interval_s),
            block_s=(block_ms / 1000) if block_ms is not None else float(poll_interval_s),
            start_id=start_id,
            maxlen=maxlen,
            approximate_trim=bool(approximate_trim),
            claim_idle_s=float(claim_idle_s),
            heartbeat_interval_s=float(heartbeat_s),
            # look for abandoned entries a few times per lease, never slower than 10 s
            sweep_interval_s=min(max(claim_idle_s / 4, 0.05), 10.0),
            max_deliveries=max_deliveries,
            consumer_gc_idle_s=consumer_gc_idle_s,
            backoff_max_s=float(backoff_max_s),
        )
