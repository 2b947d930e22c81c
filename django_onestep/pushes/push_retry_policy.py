"""How a failed push attempt is retried: per delivery, through ``ExponentialBackoff``.

The queue's own attempt count also counts the times a delivery was put back unsent
(host paused, rate limit), so the delivery row counts real HTTP attempts and the
handler says in its exception whether that was the last one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import OneStepError
from django_onestep.core.retry import ExponentialBackoff, FailureInfo, RetryAction, RetryDecision

__all__ = ["DEFAULT_BACKOFF", "PushAttemptFailed", "PushDeferred", "PushRetry", "backoff_from_row"]

DEFAULT_BACKOFF = ExponentialBackoff(max_attempts=10, min_delay_s=1.0, max_delay_s=3600.0, jitter="full")
_INFRASTRUCTURE_RETRY_S = 5.0


class PushDeferred(OneStepError, RuntimeError):
    """Not attempted now (host paused, rate or concurrency limit): try again later."""

    def __init__(self, reason: str, delay_s: float) -> None:
        super().__init__(reason)
        self.delay_s = delay_s


class PushAttemptFailed(OneStepError, RuntimeError):
    """An attempt got no 2xx; ``final`` once the delivery is dead."""

    def __init__(self, message: str, *, final: bool, delay_s: float) -> None:
        super().__init__(message)
        self.final = final
        self.delay_s = delay_s


def backoff_to_row(backoff: ExponentialBackoff) -> dict[str, Any]:
    return {
        "min_delay_s": backoff.min_delay_s,
        "max_delay_s": backoff.max_delay_s,
        "multiplier": backoff.multiplier,
        "jitter": backoff.jitter,
    }


def backoff_from_row(stored: Mapping[str, Any], max_attempts: int) -> ExponentialBackoff:
    return ExponentialBackoff(max_attempts=max_attempts, **{**backoff_to_row(DEFAULT_BACKOFF), **stored})


class PushRetry:
    """The retry policy of the push task: follows what the handler decided."""

    def on_error(self, envelope: Envelope, exc: Exception, failure: FailureInfo) -> RetryAction:
        if isinstance(exc, PushDeferred):
            return RetryAction(RetryDecision.RETRY, delay_s=exc.delay_s)
        if isinstance(exc, PushAttemptFailed):
            if exc.final:
                return RetryAction(RetryDecision.FAIL)
            return RetryAction(RetryDecision.RETRY, delay_s=exc.delay_s)
        # the database or a setting failed before any attempt: the delivery waits for a fix
        return RetryAction(RetryDecision.RETRY, delay_s=_INFRASTRUCTURE_RETRY_S)

    def __repr__(self) -> str:
        return "PushRetry()"
