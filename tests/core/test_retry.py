"""Retry policies and failure info."""

from __future__ import annotations

import random

import pytest

from django_onestep import (
    Envelope,
    ExponentialBackoff,
    FailureInfo,
    FailureKind,
    MaxAttempts,
    NoRetry,
    RetryAction,
    RetryDecision,
)
from django_onestep.core.retry import ByFailureKind, resolve_retry_action

ERR = FailureInfo(kind=FailureKind.ERROR, exception_type="RuntimeError", message="x")
TIMEOUT = FailureInfo(kind=FailureKind.TIMEOUT, exception_type="TimeoutError", message="")


def env(attempts: int) -> Envelope:
    return Envelope(body=None, attempts=attempts)


def test_no_retry_always_fails() -> None:
    assert NoRetry().on_error(env(0), RuntimeError(), ERR) == RetryAction(RetryDecision.FAIL)


def test_max_attempts_counts_total_attempts() -> None:
    policy = MaxAttempts(3, delay_s=2)
    assert policy.on_error(env(0), RuntimeError(), ERR) == RetryAction(RetryDecision.RETRY, 2.0)
    assert policy.on_error(env(1), RuntimeError(), ERR) == RetryAction(RetryDecision.RETRY, 2.0)
    assert policy.on_error(env(2), RuntimeError(), ERR) == RetryAction(RetryDecision.FAIL)
    assert MaxAttempts(1).on_error(env(0), RuntimeError(), ERR).decision is RetryDecision.FAIL


def test_exponential_backoff_without_jitter() -> None:
    policy = ExponentialBackoff(max_attempts=6, min_delay_s=1, max_delay_s=10, multiplier=3)
    delays = [policy.on_error(env(n), RuntimeError(), ERR).delay_s for n in range(5)]
    assert delays == [1.0, 3.0, 9.0, 10.0, 10.0]
    assert policy.on_error(env(5), RuntimeError(), ERR) == RetryAction(RetryDecision.FAIL)


def test_exponential_backoff_full_and_equal_jitter_bounds() -> None:
    random.seed(7)
    full = ExponentialBackoff(max_attempts=100, min_delay_s=2, max_delay_s=8, jitter="full")
    equal = ExponentialBackoff(max_attempts=100, min_delay_s=2, max_delay_s=8, jitter="equal")
    for attempts in range(6):
        raw = min(8.0, 2.0 * 2**attempts)
        for _ in range(50):
            f = full.on_error(env(attempts), RuntimeError(), ERR).delay_s
            e = equal.on_error(env(attempts), RuntimeError(), ERR).delay_s
            assert f is not None and 0.0 <= f <= raw
            assert e is not None and raw / 2 <= e <= min(8.0, raw * 1.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, r"^max_attempts: must be >= 1, got 0$"),
        ({"min_delay_s": -1}, r"^min_delay_s: must be >= 0, got -1$"),
        ({"min_delay_s": 5, "max_delay_s": 1}, r"^max_delay_s: must be >= min_delay_s \(5.0\), got 1$"),
        ({"multiplier": 0}, r"^multiplier: must be > 0, got 0$"),
        ({"jitter": "some"}, r"^jitter: must be one of \['none', 'full', 'equal'\], got 'some'$"),
    ],
)
def test_exponential_backoff_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExponentialBackoff(**kwargs)  # type: ignore[arg-type]


def test_max_attempts_validation() -> None:
    with pytest.raises(ValueError, match=r"^max_attempts: must be >= 1, got 0$"):
        MaxAttempts(0)
    with pytest.raises(ValueError, match=r"^delay_s: must be >= 0, got -2$"):
        MaxAttempts(2, delay_s=-2)


def test_two_argument_on_error_is_accepted() -> None:
    class Legacy:
        def on_error(self, envelope, exc):
            return RetryAction(RetryDecision.RETRY, delay_s=envelope.attempts + 0.5)

    assert resolve_retry_action(Legacy(), env(2), RuntimeError(), ERR) == RetryAction(
        RetryDecision.RETRY, 2.5
    )


def test_by_failure_kind_routes_by_kind() -> None:
    policy = ByFailureKind(timeout=MaxAttempts(5, delay_s=1), default=NoRetry())
    assert policy.on_error(env(0), TimeoutError(), TIMEOUT) == RetryAction(RetryDecision.RETRY, 1.0)
    assert policy.on_error(env(0), RuntimeError(), ERR) == RetryAction(RetryDecision.FAIL)
    assert ByFailureKind(error=MaxAttempts(2)).on_error(env(0), TimeoutError(), TIMEOUT).decision is (
        RetryDecision.FAIL
    )
    with pytest.raises(ValueError, match=r"ByFailureKind keys must be in"):
        ByFailureKind(oops=NoRetry())
    with pytest.raises(
        ValueError, match=r"^ByFailureKind error= must be a retry policy \(with on_error\(\)\), got 3$"
    ):
        ByFailureKind(error=3)  # type: ignore[arg-type]


def test_failure_info_from_exception_and_as_dict() -> None:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        info = FailureInfo.from_exception(exc, kind=FailureKind.ERROR)
    data = info.as_dict()
    assert (data["kind"], data["exception_type"], data["message"]) == ("error", "KeyError", "'missing'")
    assert data["traceback"].startswith("Traceback (most recent call last)")
    bare = FailureInfo.from_exception(TimeoutError(), kind=FailureKind.TIMEOUT)
    assert bare.as_dict() == {"kind": "timeout", "exception_type": "TimeoutError", "message": ""}
