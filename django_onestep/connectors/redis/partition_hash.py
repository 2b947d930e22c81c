"""Which partition a key belongs to: a stable hash that needs no optional package.

The rule (documented in docs/connectors/redis.md, pinned by tests/core):

* a ``str`` key is hashed as its UTF-8 bytes;
* an ``int`` key is hashed as its decimal text, so ``42`` and ``"42"`` are the same key
  (a producer in another language that writes the id as text agrees with one that
  writes it as a number);
* ``bytes`` are hashed as they are;
* anything else (``None``, ``bool``, floats, tuples) is refused: its text is not stable
  across versions or languages.

The hash is CRC-32 (``zlib.crc32``, the IEEE polynomial of zip and PNG) modulo the
partition count. It is the same on every platform and Python version, and any other
language's CRC-32 gives the same partition.
"""

from __future__ import annotations

import zlib
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["key_bytes", "partition_for"]


def key_bytes(key: Any) -> bytes:
    """The bytes a partition key is hashed as (see the module docstring for the rule)."""
    if isinstance(key, bool):  # bool is an int subclass; True == 1 would surprise
        raise ConfigurationError(f"partition key must be a str, int or bytes; got the bool {key!r}")
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, int):
        return str(key).encode("ascii")
    if isinstance(key, bytes):
        return key
    raise ConfigurationError(
        f"partition key must be a str, int or bytes; got {type(key).__name__} {key!r} "
        "(make the key function return the id as text or a number)"
    )


def partition_for(key: Any, partitions: int) -> int:
    """The partition (0 to ``partitions - 1``) of ``key``."""
    return zlib.crc32(key_bytes(key)) % partitions
