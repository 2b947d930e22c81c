"""HmacAuth (GitHub, Stripe, generic senders) and delivery ids, also on the standalone listener."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from django_onestep import HmacAuth, WebhookSource
from django_onestep.core.http.webhook_protocol import WebhookHTTPError, secret_header_names, verify_body
from tests.core.webhook_helpers import request, send_raw

BODY = b'{"action": "opened"}'


def sign(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, algorithm).hexdigest()


def rejected(auth: HmacAuth, headers: dict[str, str], body: bytes = BODY) -> bool:
    try:
        auth.authorize(headers)
        auth.verify(headers, body)
    except WebhookHTTPError as exc:
        assert (exc.status, exc.body, exc.headers) == (401, {"error": "unauthorized"}, {})
        return True
    return False


def test_github_signature_with_rotation() -> None:
    auth = HmacAuth.github(["new", "old"])
    for secret in ("new", "old"):
        assert not rejected(auth, {"x-hub-signature-256": "sha256=" + sign(secret, BODY)})
    assert rejected(auth, {"x-hub-signature-256": "sha256=" + sign("other", BODY)})
    assert rejected(auth, {"x-hub-signature-256": sign("new", BODY)})  # no prefix
    assert rejected(auth, {"x-hub-signature-256": "sha256=" + sign("new", BODY) + "00"})
    assert rejected(auth, {"x-hub-signature-256": "sha256=\u00e9\u00e9"})
    assert rejected(auth, {})
    assert rejected(auth, {"x-hub-signature-256": "sha256=" + sign("new", BODY)}, body=BODY + b" ")
    assert "new" not in repr(auth) and "old" not in repr(auth)
    assert secret_header_names(auth) == {"x-hub-signature-256"}


def test_authorize_alone_only_requires_the_header_so_it_can_run_before_the_body() -> None:
    auth = HmacAuth.github("s")
    auth.authorize({"x-hub-signature-256": "sha256=00"})
    with pytest.raises(WebhookHTTPError):
        auth.authorize({"x-hub-signature-256": "  "})


def stripe_header(secret: str, at: int, body: bytes = BODY, extra: str = "") -> str:
    return f"t={at},{extra}v1={sign(secret, f'{at}.'.encode() + body)}"


def test_stripe_tolerance_and_several_v1_signatures() -> None:
    now = 1_700_000_000
    auth = HmacAuth.stripe("whsec", tolerance_s=300, clock=lambda: now)
    assert not rejected(auth, {"stripe-signature": stripe_header("whsec", now - 300)})
    assert not rejected(
        auth, {"stripe-signature": stripe_header("whsec", now, extra="v1=zz,v1=" + "ab" * 32 + ",")}
    )
    assert not rejected(auth, {"stripe-signature": stripe_header("whsec", now, extra="v0=abc,")})
    assert rejected(auth, {"stripe-signature": stripe_header("whsec", now - 301)})  # stale
    assert rejected(auth, {"stripe-signature": stripe_header("whsec", now + 301)})  # from the future
    assert rejected(auth, {"stripe-signature": stripe_header("other", now)})
    assert rejected(auth, {"stripe-signature": f"t={now}"})
    assert rejected(auth, {"stripe-signature": "v1=" + sign("whsec", BODY)})  # no timestamp
    assert rejected(auth, {"stripe-signature": stripe_header("whsec", now).replace(f"t={now}", "t=\u00b2")})
    assert rejected(auth, {"stripe-signature": "garbage"})


def test_generic_hmac_base64_like_shopify_and_a_message_hook_like_slack() -> None:
    shopify = HmacAuth("shp", header="X-Shopify-Hmac-Sha256", encoding="base64")
    digest = base64.b64encode(hmac.new(b"shp", BODY, hashlib.sha256).digest()).decode()
    assert not rejected(shopify, {"x-shopify-hmac-sha256": digest})
    assert rejected(shopify, {"x-shopify-hmac-sha256": "not base64!"})

    def slack_basestring(headers: dict[str, str], body: bytes) -> bytes:
        return b"v0:" + headers.get("x-slack-request-timestamp", "").encode() + b":" + body

    slack = HmacAuth("sl", header="X-Slack-Signature", prefix="v0=", message=slack_basestring)
    good = {"x-slack-request-timestamp": "123", "x-slack-signature": "v0=" + sign("sl", b"v0:123:" + BODY)}
    assert not rejected(slack, good)
    assert rejected(slack, {**good, "x-slack-request-timestamp": "124"})
    sha1 = HmacAuth("k", header="X-Sig", algorithm="sha1")
    assert not rejected(sha1, {"x-sig": sign("k", BODY, "sha1")})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": "", "header": "x"}, "HmacAuth secret must be a non-empty string"),
        ({"secret": [], "header": "x"}, "HmacAuth secret must be a non-empty string"),
        ({"secret": "s", "header": " "}, "HmacAuth header must be a non-empty header name"),
        ({"secret": "s", "header": "x", "algorithm": "rot13"}, "HmacAuth algorithm must be a hashlib name"),
        ({"secret": "s", "header": "x", "encoding": "b32"}, "HmacAuth encoding must be 'hex' or 'base64'"),
    ],
)
def test_bad_configuration_names_the_option(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HmacAuth(**kwargs)
    with pytest.raises(ValueError, match=r"HmacAuth\.stripe tolerance_s: must be > 0, got 0"):
        HmacAuth.stripe("s", tolerance_s=0)


def test_verify_body_skips_header_only_auths() -> None:
    verify_body(object(), {}, b"")  # BearerAuth and custom auths without verify()


def test_delivery_key_from_a_header_or_a_function_of_the_event() -> None:
    by_header = WebhookSource(path="/a", delivery_id="X-GitHub-Delivery")
    assert by_header.delivery_key({"headers": {"x-github-delivery": " d1 "}}) == "d1"
    assert by_header.delivery_key({"headers": {}}) is None
    by_body = WebhookSource(path="/b", delivery_id=lambda event: event["body"]["id"])
    assert by_body.delivery_key({"body": {"id": "evt_1"}}) == "evt_1"
    assert by_body.delivery_key({"body": "not a dict"}) is None
    assert by_body.delivery_key({"body": {"id": {"nested": 1}}}) is None
    assert WebhookSource(path="/c").delivery_key({"headers": {}}) is None
    with pytest.raises(ValueError, match="delivery_id must be a header name or a function"):
        WebhookSource(path="/d", delivery_id=3)  # type: ignore[arg-type]


async def test_the_standalone_listener_verifies_signatures_after_reading_the_body() -> None:
    source = WebhookSource(path="/gh", port=0, auth=HmacAuth.github("s"), poll_interval_s=0.05)
    await source.open()
    try:
        good = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + sign("s", BODY)}
        assert (await send_raw(source.bound_port, request("POST", "/gh", BODY, good))).status == 202
        bad = {**good, "X-Hub-Signature-256": "sha256=" + sign("x", BODY)}
        assert (await send_raw(source.bound_port, request("POST", "/gh", BODY, bad))).status == 401
        (delivery,) = await source.fetch(10)
        assert delivery.payload["body"] == {"action": "opened"}
        assert await source.fetch(10) == []
    finally:
        await source.close()
