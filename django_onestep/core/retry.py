"""Failure classification and retry policies (onestep 1.x shapes).

A policy looks at the envelope that failed and returns a :class:`RetryAction`. The
runner applies it: ``RETRY`` hands the item back to its source (which counts the
attempt and, for a delay, schedules it without holding a concurrency slot);
``FAIL`` sends it to the dead-letter sinks, if any, and settles it as failed.
"""

from __future__ import annotations

import random
import traceback as traceback_module
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from django_onestep.core.callbacks import positional_arity
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import invalid_value
from django_onestep.core.validation import (
    non_negative_number,
    optional_non_negative_number,
    positive_int,
    positive_number,
)

__all__ = [
    "ByFailureKind",
    "ExponentialBackoff",
    "FailureInfo",
    "FailureKind",
    "MaxAttempts",
    "NoRetry",
    "RetryAction",
    "RetryDecision",
    "RetryPolicy",
    "resolve_retry_action",
]


class FailureKind(str, Enum):
    ERROR = "error"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class FailureInfo:
    """What went wrong, in a JSON-friendly form (stored in dead letters and events)."""

    kind: FailureKind
    exception_type: str
    message: str
    traceback: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, *, kind: FailureKind) -> FailureInfo:
        text = None
        if exc.__traceback__ is not None:
            text = "".join(traceback_module.format_exception(type(exc), exc, exc.__traceback__))
        return cls(kind=kind, exception_type=type(exc).__name__, message=str(exc), traceback=text)

    def as_dict(self) -> dict[str, str]:
        data = {"kind": self.kind.value, "exception_type": self.exception_type, "message": self.message}
        if self.traceback is not None:
            data["traceback"] = self.traceback
        return data


class RetryDecision(str, Enum):
    RETRY = "retry"
    FAIL = "fail"


@dataclass
class RetryAction:
    decision: RetryDecision
    delay_s: float | None = None


class RetryPolicy(Protocol):
    def on_error(self, envelope: Envelope, exc: Exception, failure: FailureInfo) -> RetryAction: ...


class NoRetry:
    """Never retry: the first failure is terminal."""

    def on_error(self, envelope: Envelope, exc: Exception, failure: FailureInfo) -> RetryAction:
        return RetryAction(RetryDecision.FAIL)

    def __repr__(self) -> str:
        return "NoRetry()"


class MaxAttempts:
    """Run an item at most ``max_attempts`` times in total, ``delay_s`` apart."""

    def __init__(self, max_attempts: int = 3, delay_s: float | None = None) -> None:
        self.max_attempts = positive_int("max_attempts", max_attempts)
        self.delay_s = optional_non_negative_number("delay_s", delay_s)

    def on_error(self, envelope: Envelope, exc: Exception, failure: FailureInfo) -> RetryAction:
        if envelope.attempts + 1 < self.max_attempts:
            return RetryAction(RetryDecision.RETRY, delay_s=self.delay_s)
        return RetryAction(RetryDecision.FAIL)

    def __repr__(self) -> str:
        return f"MaxAttempts(max_attempts={self.max_attempts}, delay_s={self.delay_s})"


class ExponentialBackoff:
    """Retry with ``min(max_delay_s, min_delay_s * multiplier ** attempts)`` between tries.

    ``jitter``: ``"none"`` (exact delay), ``"full"`` (uniform in ``[0, delay]``) or
    ``"equal"`` (uniform in ``[delay/2, min(max_delay_s, delay*1.5)]``).
    """

    JITTER_OPTIONS = ("none", "full", "equal")

    def __init__(
        self,
        max_attempts: int = 3,
        min_delay_s: float = 1.0,
        max_delay_s: float = 60.0,
        multiplier: float = 2.0,
        jitter: str = "none",
    ) -> None:
        self.max_attempts = positive_int("max_attempts", max_attempts)
        min_delay = non_negative_number("min_delay_s", min_delay_s)
        max_delay = non_negative_number("max_delay_s", max_delay_s)
        if max_delay < min_delay:
            raise invalid_value("max_delay_s", f"must be >= min_delay_s ({min_delay}), got {max_delay_s!r}")
        self.multiplier = positive_number("multiplier", multiplier)
        if jitter not in self.JITTER_OPTIONS:
            raise invalid_value("jitter", f"must be one of {list(self.JITTER_OPTIONS)}, got {jitter!r}")
        self.min_delay_s = min_delay
        self.max_delay_s = max_delay
        self.jitter = jitter

    def delay_for(self, attempts: int) -> float:
        """The delay before the retry that follows a failure at ``attempts`` previous tries."""
        try:
            raw = self.min_delay_s * (self.multiplier**attempts)
        except OverflowError:  # huge attempt counts: the cap applies anyway
            raw = self.max_delay_s
        delay = min(raw, self.max_delay_s)
        if self.jitter == "full":
            return random.uniform(0.0, delay)
        if self.jitter == "equal":
            half = delay / 2.0
            return random.uniform(max(0.0, delay - half), min(self.max_delay_s, delay + half))
        return delay

    def on_error(self, envelope: Envelope, exc: Exception, failure: FailureInfo) -> RetryAction:
        if envelope.attempts + 1 >= self.max_attempts:
            return RetryAction(RetryDecision.FAIL)
        return RetryAction(RetryDecision.RETRY, delay_s=self.delay_for(envelope.attempts))

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoff(max_attempts={self.max_attempts}, min_delay_s={self.min_delay_s}, "
            f"max_delay_s={self.max_delay_s}, multiplier={self.multiplier}, jitter={self.jitter!r})"
        )


class ByFailureKind:
    """Pick a sub-policy by failure kind (``error=``, ``timeout=``, ``cancelled=``, ``default=``)."""

    _KEYS = frozenset({"error", "timeout", "cancelled", "default"})

    def __init__(self, **policies: RetryPolicy) -> None:
        if not policies:
            raise ValueError("ByFailureKind needs at least one sub-policy")
        unknown = sorted(set(policies) - self._KEYS)
        if unknown:
            raise ValueError(f"ByFailureKind keys must be in {sorted(self._KEYS)}, got {unknown}")
        for key, policy in policies.items():
            if not callable(getattr(policy, "on_error", None)):
                raise ValueError(
                    f"ByFailureKind {key}= must be a retry policy (with on_error()), got {policy!r}"
                )
        self._policies = policies

    def on_error(self, envelope: Envelope, exc: Exception, failure: FailureInfo) -> RetryAction:
        policy = self._policies.get(failure.kind.value) or self._policies.get("default")
        if policy is None:
            return RetryAction(RetryDecision.FAIL)
        return resolve_retry_action(policy, envelope, exc, failure)


def resolve_retry_action(
    policy: RetryPolicy, envelope: Envelope, exc: Exception, failure: FailureInfo
) -> RetryAction:
    """Ask ``policy``; a 2-argument ``on_error(envelope, exc)`` (older onestep) is accepted."""
    on_error = policy.on_error
    arity = positional_arity(on_error)
    if arity is not None and arity < 3:
        legacy: Callable[[Envelope, Exception], RetryAction] = on_error  # type: ignore[assignment]
        return legacy(envelope, exc)
    return on_error(envelope, exc, failure)
