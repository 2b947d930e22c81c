"""The push feature's pure parts: token bucket, host limits, address policy, retry decisions."""

from __future__ import annotations

import pytest

from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.http.webhook_hmac import HmacAuth, sign_timestamped
from django_onestep.core.retry import FailureInfo, FailureKind, RetryDecision
from django_onestep.pushes.address_policy import PushTargetRefused, check_target
from django_onestep.pushes.host_limits import HostLimiter, TokenBucket, parse_host_limits
from django_onestep.pushes.push_retry_policy import (
    PushAttemptFailed,
    PushDeferred,
    PushRetry,
    backoff_from_row,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_gives_its_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    bucket = TokenBucket(3.0, 5, clock=clock)
    assert [bucket.reserve(0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.reserve(0.0) is None  # no token now, and not willing to wait
    assert bucket.reserve(1.0) == pytest.approx(1 / 3)
    assert bucket.reserve(1.0) == pytest.approx(2 / 3)  # queued behind the previous one
    assert bucket.reserve(0.5) is None
    clock.now += 10  # refills, but never past the burst
    assert [bucket.reserve(0.0) for _ in range(5)] == [0.0] * 5
    assert bucket.reserve(0.0) is None


def test_host_concurrency_frees_a_slot_when_a_request_finishes() -> None:
    limiter = HostLimiter(parse_host_limits({"*": {"CONCURRENCY": 2}, "fast.example": {}}))
    assert limiter.try_start("a.example", max_wait_s=0) == 0.0
    assert limiter.try_start("a.example", max_wait_s=0) == 0.0
    assert limiter.try_start("a.example", max_wait_s=0) is None
    assert limiter.try_start("b.example", max_wait_s=0) == 0.0  # another host is not held up
    limiter.finish("a.example")
    assert limiter.try_start("a.example", max_wait_s=0) == 0.0
    assert all(limiter.try_start("fast.example", max_wait_s=0) == 0.0 for _ in range(10))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"h": {"RATE_PER_S": 0}}, r'\["h"\]\["RATE_PER_S"\]: must be a positive number'),
        ({"h": {"BURST": 1.5}}, r'\["h"\]\["BURST"\]: must be a positive integer'),
        ({"h": {"RATE": 3}}, r"unknown key 'RATE'"),
        ({"h": 3}, r"must be a dict"),
    ],
)
def test_bad_host_limits_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_host_limits(raw)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.4",
        "172.16.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "0.0.0.0",
    ],
)
def test_internal_addresses_are_refused_unless_allowed(address: str) -> None:
    resolve = lambda host: [address]  # noqa: E731
    with pytest.raises(PushTargetRefused, match=r"PUSH_ALLOWED_HOSTS"):
        check_target("https://hooks.example/x", [], resolve=resolve)
    assert check_target("https://hooks.example/x", ["hooks.example"], resolve=resolve) == "hooks.example"
    assert check_target("https://hooks.example/x", [address], resolve=resolve) == "hooks.example"


def test_a_name_with_one_internal_address_among_public_ones_is_refused() -> None:
    with pytest.raises(PushTargetRefused):
        check_target("http://mixed.example/", [], resolve=lambda host: ["93.184.216.34", "10.0.0.8"])
    assert (
        check_target("http://HOOKS.example:8443/", [], resolve=lambda host: ["93.184.216.34"])
        == "hooks.example"
    )


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example/x", "file:///etc/passwd", "http:///nohost", "hooks.example/x"]
)
def test_only_http_urls_with_a_host_are_pushed_to(url: str) -> None:
    with pytest.raises(PushTargetRefused, match="http"):
        check_target(url, [], resolve=lambda host: ["93.184.216.34"])


def _failure() -> FailureInfo:
    return FailureInfo(kind=FailureKind.ERROR, exception_type="X", message="x")


def test_the_push_retry_policy_follows_the_handler() -> None:
    policy, envelope = PushRetry(), Envelope(body={})
    deferred = policy.on_error(envelope, PushDeferred("paused", 1.5), _failure())
    assert (deferred.decision, deferred.delay_s) == (RetryDecision.RETRY, 1.5)
    again = policy.on_error(envelope, PushAttemptFailed("500", final=False, delay_s=0.2), _failure())
    assert (again.decision, again.delay_s) == (RetryDecision.RETRY, 0.2)
    final = policy.on_error(envelope, PushAttemptFailed("500", final=True, delay_s=0.2), _failure())
    assert final.decision is RetryDecision.FAIL
    assert policy.on_error(envelope, RuntimeError("db down"), _failure()).decision is RetryDecision.RETRY


def test_the_stored_backoff_grows_exponentially_and_keeps_its_cap() -> None:
    backoff = backoff_from_row({"min_delay_s": 1.0, "max_delay_s": 5.0, "jitter": "none"}, 10)
    assert [backoff.delay_for(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = backoff_from_row({}, 10)  # the default: full jitter
    assert all(0.0 <= jittered.delay_for(3) <= 8.0 for _ in range(50))


def test_a_push_signature_verifies_with_the_webhook_receiver_and_its_tolerance() -> None:
    body = b'{"a":1}'
    header = sign_timestamped("s3cret", body, timestamp=1_000_000)
    assert header.startswith("t=1000000,v1=")
    HmacAuth.onestep("s3cret", clock=lambda: 1_000_100).verify({"onestep-signature": header}, body)
    with pytest.raises(Exception, match="unauthorized"):  # replayed past the tolerance
        HmacAuth.onestep("s3cret", clock=lambda: 1_001_000).verify({"onestep-signature": header}, body)
    with pytest.raises(Exception, match="unauthorized"):  # a changed body
        HmacAuth.onestep("s3cret", clock=lambda: 1_000_000).verify({"onestep-signature": header}, b"{}")
