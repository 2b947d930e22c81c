"""``DatabaseQueue(concurrency_key=fn, max_per_key=1)``: at most N running jobs per key.

The key is computed from the payload when the job is enqueued (any enqueue path in a
process where the queue was constructed: ``send``, ``publish``, the admin, workflows)
and stored on the row. The claim skips jobs whose key already has ``max_per_key``
running jobs with an anti-join on the running rows of the same key, so a blocked key
at the head of the queue never holds back the other keys' jobs; within one claim it
takes at most the room each key has left. Claims of a keyed queue are serialised by
its flow row lock (``flow_claims.py``): two workers never both see a key as free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Never

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import positive_int

__all__ = ["KeyFunction", "key_for", "register_key", "select_keyed"]

# called with the payload (any JSON value): Never accepts every one-argument function
KeyFunction = Callable[[Never], object]
_MAX_KEY_LENGTH = 200
# queue name -> its key function (set by DatabaseQueue, read by every enqueue path)
_KEYS: dict[str, KeyFunction] = {}


def register_key(queue: str, key: KeyFunction | None, max_per_key: int | None) -> int | None:
    """Check the options of ``queue`` and remember its key function; returns max_per_key
    (None: this object claims without the key's limit)."""
    if key is None:
        if max_per_key is not None:
            raise ConfigurationError(
                f"DatabaseQueue({queue!r}) max_per_key: needs concurrency_key=, e.g. lambda payload: payload['customer_id']"
            )
        # not forgotten: a plain DatabaseQueue(name) built elsewhere to enqueue into
        # the same queue still stores the key
        return None
    if not callable(key):
        raise ConfigurationError(
            f"DatabaseQueue({queue!r}) concurrency_key: must be a function of the payload, got {key!r}"
        )
    limit = positive_int(f"DatabaseQueue({queue!r}) max_per_key", 1 if max_per_key is None else max_per_key)
    _KEYS[queue] = key
    return limit


def key_for(queue: str, payload: Any) -> str | None:
    """The stored key of a new job of ``queue`` (None: the queue has no key, or the
    function returned None for this payload, so the job is not limited)."""
    key = _KEYS.get(queue)
    if key is None:
        return None
    value = key(payload)
    if value is None:
        return None
    text = str(value)
    if not 0 < len(text) <= _MAX_KEY_LENGTH:
        raise ValueError(
            f"DatabaseQueue({queue!r}) concurrency_key: must give 1 to {_MAX_KEY_LENGTH} characters, got {len(text)}"
        )
    return text


def select_keyed(table: str, columns: str, not_expired: str, lock: str) -> str:
    """The claim's SELECT for a keyed queue: the due jobs whose key has room, each with
    the number of running jobs of its key (params: queue, now, now, max_per_key, limit)."""
    running = (
        f"(SELECT COUNT(*) FROM {table} r WHERE r.queue = j.queue "
        "AND r.concurrency_key = j.concurrency_key AND r.status = 'running')"
    )
    return (
        f"SELECT {columns}, j.concurrency_key, {running} FROM {table} j "
        f"WHERE j.queue = %s AND j.status = 'queued' AND j.available_at <= %s AND {not_expired} "
        f"AND (j.concurrency_key IS NULL OR {running} < %s) "
        f"ORDER BY j.priority DESC, j.id LIMIT %s {lock}"
    )
