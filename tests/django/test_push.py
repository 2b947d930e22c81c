"""Push tasks with a real worker runtime, the database queue and a local HTTP endpoint."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings

from django_onestep import ExponentialBackoff, HmacAuth, push
from django_onestep.models import DeadLetter, PushDelivery
from django_onestep.pushes.address_policy import PushTargetRefused
from django_onestep.pushes.operations import set_paused
from django_onestep.pushes.push_task import PUSH_TASK
from tests.django.push_helpers import Endpoint, serving
from tests.waiting import wait_until

SECRET = "push-secret-for-tests"
FAST = ExponentialBackoff(max_attempts=10, min_delay_s=0.01, max_delay_s=0.05)
SETTINGS = {
    "APP_NAME": "testproject",
    "PUSH_ALLOWED_HOSTS": ["127.0.0.1"],
    "PUSH_SECRETS": {"partner": {"HMAC": SECRET}, "legacy": {"AUTH_KEY": "plain-key"}},
    "PUSH_API_TOKEN": "push-api-token-0123456789",
}

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sqlite_only]


def state_of(delivery_id: Any) -> str:
    return str(PushDelivery.objects.get(pk=delivery_id).state)


@override_settings(ONESTEP=SETTINGS)
def test_three_500s_then_200_is_four_signed_attempts_under_one_delivery_id() -> None:
    with Endpoint([500, 500, 500, 200]) as endpoint:
        delivery_id = push(endpoint.url, {"n": 1}, backoff=FAST, signing="partner")
        with serving():
            wait_until(lambda: state_of(delivery_id) == "succeeded", 30, "the delivery to succeed")
    assert len(endpoint.received) == 4
    assert {r.headers["x-onestep-delivery-id"] for r in endpoint.received} == {str(delivery_id)}
    assert [r.headers["x-onestep-attempt"] for r in endpoint.received] == ["1", "2", "3", "4"]
    verifier = HmacAuth.onestep(SECRET)
    for received in endpoint.received:
        verifier.verify(received.headers, received.body)  # raises 401 on a bad signature
        assert received.body == b'{"n":1}'
    row = PushDelivery.objects.get(pk=delivery_id)
    assert (row.attempts, row.last_status) == (4, 200)


@override_settings(ONESTEP=SETTINGS)
def test_a_wrong_secret_fails_verification() -> None:
    with Endpoint([200]) as endpoint:
        delivery_id = push(endpoint.url, {"n": 1}, signing="partner")
        with serving():
            wait_until(lambda: state_of(delivery_id) == "succeeded", 30, "the delivery")
    received = endpoint.received[0]
    with pytest.raises(Exception, match="unauthorized"):
        HmacAuth.onestep("another-secret").verify(received.headers, received.body)


@override_settings(ONESTEP=SETTINGS)
def test_the_plain_auth_key_is_sent_as_poussetaches_did() -> None:
    with Endpoint([200]) as endpoint:
        delivery_id = push(endpoint.url, [1, 2], signing="legacy", method="PUT")
        with serving():
            wait_until(lambda: state_of(delivery_id) == "succeeded", 30, "the delivery")
    assert endpoint.received[0].headers["onestep-auth-key"] == "plain-key"
    assert "onestep-signature" not in endpoint.received[0].headers


@override_settings(ONESTEP=SETTINGS)
def test_an_always_500_endpoint_with_three_attempts_ends_dead_in_the_dead_letters() -> None:
    with Endpoint([500]) as endpoint:
        delivery_id = push(endpoint.url, {"n": 2}, backoff=FAST, max_attempts=3)
        with serving():
            wait_until(lambda: state_of(delivery_id) == "dead", 30, "the delivery to die")
            wait_until(lambda: DeadLetter.objects.filter(task=PUSH_TASK).exists(), 10, "its dead letter")
    assert len(endpoint.received) == 3
    row = PushDelivery.objects.get(pk=delivery_id)
    assert (row.attempts, row.last_status, row.last_error) == (3, 500, "HTTP 500 Internal Server Error")
    dead = DeadLetter.objects.get(task=PUSH_TASK)
    assert str(delivery_id) in str(dead.payload)
    listed = Client().get(
        "/onestep/push/deliveries/?state=dead", HTTP_AUTHORIZATION="Bearer push-api-token-0123456789"
    )
    assert [row["id"] for row in listed.json()["results"]] == [str(delivery_id)]
    out = io.StringIO()
    call_command("onestep_deliveries", "list", "--state", "dead", stdout=out)
    assert out.getvalue().startswith(f"{delivery_id}  dead       3/3  500  POST {endpoint.url}")


@override_settings(ONESTEP=SETTINGS)
def test_fifty_pushes_with_ten_rolled_back_send_exactly_forty() -> None:
    class Rollback(Exception):
        pass

    with Endpoint([200]) as endpoint:
        with transaction.atomic():
            for n in range(50):
                try:
                    with transaction.atomic():
                        push(endpoint.url, {"n": n})
                        if n % 5 == 0:
                            raise Rollback
                except Rollback:
                    pass
        with serving():
            wait_until(lambda: len(endpoint.received) >= 40, 60, "40 requests")
            time.sleep(0.3)  # a 41st would have had time to arrive
    sent = sorted(int(r.body.decode().split(":")[1].rstrip("}")) for r in endpoint.received)
    assert sent == [n for n in range(50) if n % 5 != 0]
    assert PushDelivery.objects.count() == 40


@override_settings(ONESTEP=SETTINGS)
def test_a_sleeping_endpoint_fails_the_attempt_after_timeout_s() -> None:
    with Endpoint([200], sleep_s=60) as endpoint:
        started = time.monotonic()
        delivery_id = push(endpoint.url, {}, timeout_s=2, max_attempts=1)
        with serving():
            wait_until(lambda: state_of(delivery_id) == "dead", 30, "the attempt to time out")
        elapsed = time.monotonic() - started
    row = PushDelivery.objects.get(pk=delivery_id)
    assert "timed out" in row.last_error
    assert row.last_status is None
    assert 2.0 <= elapsed < 15


@override_settings(ONESTEP={**SETTINGS, "PUSH_HOST_LIMITS": {"127.0.0.1": {"RATE_PER_S": 3, "BURST": 5}}})
def test_three_per_second_with_a_burst_of_five_spreads_twenty_pushes_over_five_seconds() -> None:
    with Endpoint([200]) as endpoint:
        ids = [push(endpoint.url, {"n": n}) for n in range(20)]
        started = time.monotonic()
        with serving():
            wait_until(lambda: len(endpoint.received) >= 20, 30, "20 requests")
    arrivals = sorted(r.at for r in endpoint.received)
    assert arrivals[-1] - started >= 5.0  # (20 - 5) tokens at 3/s
    assert arrivals[4] - started < 3.0  # the burst went out at once
    assert all(state_of(i) == "succeeded" for i in ids)
    assert {r.headers["x-onestep-attempt"] for r in endpoint.received} == {"1"}  # waiting is no attempt


def test_a_loopback_target_is_refused_unless_allow_listed() -> None:
    with override_settings(ONESTEP={"APP_NAME": "testproject"}):
        with pytest.raises(PushTargetRefused, match=r"PUSH_ALLOWED_HOSTS"):
            push("http://127.0.0.1/hook", {})
        with pytest.raises(PushTargetRefused):
            push("http://localhost:8000/hook", {})
        with pytest.raises(PushTargetRefused):
            push("ftp://example.com/x", {})
        assert PushDelivery.objects.count() == 0
    with override_settings(ONESTEP={"APP_NAME": "testproject", "PUSH_ALLOWED_HOSTS": ["127.0.0.1"]}):
        assert push("http://127.0.0.1/hook", {})


def test_the_target_is_checked_again_before_each_attempt() -> None:
    with Endpoint([200]) as endpoint:
        with override_settings(ONESTEP=SETTINGS):
            delivery_id = push(endpoint.url, {})
        with override_settings(ONESTEP={"APP_NAME": "testproject"}), serving():
            wait_until(lambda: state_of(delivery_id) == "dead", 30, "the refusal")
    assert endpoint.received == []
    assert "PUSH_ALLOWED_HOSTS" in PushDelivery.objects.get(pk=delivery_id).last_error


@override_settings(ONESTEP=SETTINGS)
def test_redirects_are_not_followed() -> None:
    with Endpoint([302]) as endpoint:
        delivery_id = push(endpoint.url, {}, max_attempts=2, backoff=FAST)
        with serving():
            wait_until(lambda: state_of(delivery_id) == "dead", 30, "the delivery to die")
    assert [r.path for r in endpoint.received] == ["/hook", "/hook"]
    assert PushDelivery.objects.get(pk=delivery_id).last_status == 302


@override_settings(ONESTEP=SETTINGS)
def test_a_paused_host_waits_without_attempts_until_resumed() -> None:
    with Endpoint([200]) as endpoint:
        set_paused("127.0.0.1", True)
        delivery_id = push(endpoint.url, {})
        with serving():
            time.sleep(1.5)
            assert endpoint.received == []
            assert PushDelivery.objects.get(pk=delivery_id).attempts == 0
            set_paused("127.0.0.1", False)
            wait_until(lambda: state_of(delivery_id) == "succeeded", 30, "the delivery after resume")
    assert len(endpoint.received) == 1


@override_settings(ONESTEP=SETTINGS)
def test_a_caller_header_cannot_replace_the_delivery_id() -> None:
    with Endpoint([200]) as endpoint:
        delivery_id = push(endpoint.url, {}, headers={"X-Onestep-Delivery-Id": "forged", "X-Trace": "abc"})
        with serving():
            wait_until(lambda: state_of(delivery_id) == "succeeded", 30, "the delivery")
    headers = endpoint.received[0].headers
    assert (headers["x-onestep-delivery-id"], headers["x-trace"]) == (str(delivery_id), "abc")


@override_settings(ONESTEP=SETTINGS)
def test_a_delayed_push_waits_for_its_delay() -> None:
    with Endpoint([200]) as endpoint:
        started = time.monotonic()
        delivery_id = push(endpoint.url, {}, delay_s=1.0)
        with serving():
            wait_until(lambda: state_of(delivery_id) == "succeeded", 30, "the delivery")
    assert endpoint.received[0].at - started >= 1.0


@override_settings(ONESTEP=SETTINGS)
def test_replaying_the_dead_letter_gives_the_delivery_a_fresh_set_of_attempts() -> None:
    from django_onestep.console.dead_letter_actions import replay

    with Endpoint([500, 200]) as endpoint:
        delivery_id = push(endpoint.url, {"n": 3}, max_attempts=1)
        with serving():
            wait_until(lambda: DeadLetter.objects.filter(task=PUSH_TASK).exists(), 30, "the dead letter")
            assert replay(DeadLetter.objects.filter(task=PUSH_TASK), by="ops").resolved
            wait_until(lambda: state_of(delivery_id) == "succeeded", 30, "the replayed delivery")
    assert [r.headers["x-onestep-attempt"] for r in endpoint.received] == ["1", "1"]


def test_a_signing_name_removed_from_the_settings_ends_the_delivery_dead_unsent() -> None:
    with Endpoint([200]) as endpoint:
        with override_settings(ONESTEP=SETTINGS):
            delivery_id = push(endpoint.url, {}, signing="partner")
        with override_settings(ONESTEP={**SETTINGS, "PUSH_SECRETS": {}}), serving():
            wait_until(lambda: state_of(delivery_id) == "dead", 30, "the delivery to die")
    assert endpoint.received == []
    row = PushDelivery.objects.get(pk=delivery_id)
    assert ('PUSH_SECRETS"]["partner"]' in row.last_error, row.attempts) == (True, 0)


@override_settings(
    ONESTEP={
        **SETTINGS,
        "PUSH_ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
        "PUSH_CONCURRENCY": 3,
        "PUSH_HOST_LIMITS": {"127.0.0.1": {"CONCURRENCY": 1}},
    }
)
def test_a_slow_host_at_its_concurrency_limit_does_not_hold_up_another_host() -> None:
    with Endpoint([200], sleep_s=0.5) as slow, Endpoint([200]) as fast:
        slow_ids = [push(slow.url, {"n": n}) for n in range(4)]
        fast_ids = [push(fast.url.replace("127.0.0.1", "localhost"), {"n": n}) for n in range(6)]
        with serving():
            wait_until(
                lambda: all(state_of(i) == "succeeded" for i in fast_ids), 30, "the fast host's pushes"
            )
            assert len(slow.received) < len(slow_ids)  # the slow host is still being served, one at a time
            wait_until(
                lambda: all(state_of(i) == "succeeded" for i in slow_ids), 30, "the slow host's pushes"
            )
    assert slow.max_in_flight == 1
    assert len(fast.received) == 6
