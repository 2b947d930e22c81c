"""Waiting for a condition in tests that run real processes, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    predicate: Callable[[], object],
    timeout_s: float = 60.0,
    what: str = "the condition",
    interval_s: float = 0.05,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def poll(predicate: Callable[[], object], what: str, timeout_s: float = 120.0) -> None:
    """``wait_until`` with the description first, as the acceptance tests read best."""
    wait_until(predicate, timeout_s, what)
