"""The unit of work that moves between sources, handlers and sinks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Envelope"]


@dataclass
class Envelope:
    """A payload plus its metadata and how many times it was attempted before.

    ``attempts`` counts *previous* attempts: 0 on the first delivery. Durable sources
    persist it so that ``MaxAttempts`` terminates on every transport.
    """

    body: Any
    meta: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
