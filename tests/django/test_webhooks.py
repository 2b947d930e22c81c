"""Webhooks served by Django (the test client): auth, limits, parsing, the inbox, the worker."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client, RequestFactory, override_settings

from django_onestep.models import Job
from django_onestep.testing import run_until_idle
from django_onestep.webhooks import view as view_module
from django_onestep.webhooks.header_allowlist import REDACTED
from tests.django import webhook_urls
from tests.django.webhook_urls import GITHUB_SECRETS, LIMIT, STRIPE_SECRET, TOKEN

pytestmark = [pytest.mark.urls("tests.django.webhook_urls")]

GITHUB = "/onestep/hooks/github"
STRIPE = "/onestep/hooks/stripe"
BEARER = "/onestep/hooks/bearer"
OPEN = "/onestep/hooks/open"


def github_headers(body: bytes, secret: str = GITHUB_SECRETS[0], delivery: str = "d-1") -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "HTTP_X_HUB_SIGNATURE_256": f"sha256={digest}",
        "HTTP_X_GITHUB_EVENT": "push",
        "HTTP_X_GITHUB_DELIVERY": delivery,
    }


def stripe_headers(body: bytes, *, at: int | None = None, extra_v1: str = "") -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(STRIPE_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    v1 = f"v1={extra_v1}," if extra_v1 else ""
    return {"HTTP_STRIPE_SIGNATURE": f"t={timestamp},{v1}v1={digest}"}


def post(path: str, body: bytes, **headers: Any) -> Any:
    return Client().post(path, body, content_type="application/json", **headers)


def inbox(task: str) -> list[Job]:
    return list(Job.objects.filter(queue=f"webhook:{task}").order_by("id"))


@pytest.mark.django_db
def test_a_github_signed_delivery_is_stored_in_the_onestep_shape_with_secrets_redacted() -> None:
    body = b'{"ref": "main"}'
    response = post(
        GITHUB + "?a=1",
        body,
        HTTP_COOKIE="session=s3cret",
        HTTP_X_SENDER_TOKEN="abc",
        **github_headers(body),
    )
    assert (response.status_code, response.json()) == (202, {"accepted": True})
    [job] = inbox("github")
    event = job.payload
    assert set(event) == {"body", "headers", "query", "method", "path", "client", "received_at"}
    assert (event["body"], event["query"], event["method"]) == ({"ref": "main"}, {"a": "1"}, "POST")
    assert event["path"] == GITHUB
    assert event["headers"]["x-github-event"] == "push"
    assert event["headers"]["content-type"] == "application/json"
    for secret_header in ("x-hub-signature-256", "cookie", "x-sender-token"):
        assert event["headers"][secret_header] == REDACTED
    assert "s3cret" not in json.dumps(job.payload) + json.dumps(job.meta)
    assert job.meta == {"source": "webhook:/hooks/github"}


@pytest.mark.django_db
def test_a_rotated_out_secret_still_verifies_and_a_trailing_slash_is_the_same_url() -> None:
    body = b"{}"
    assert post(GITHUB + "/", body, **github_headers(body, secret=GITHUB_SECRETS[1])).status_code == 202
    assert len(inbox("github")) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64},
        {"HTTP_X_HUB_SIGNATURE_256": "sha1=abc"},
        {"HTTP_X_HUB_SIGNATURE_256": "sha256=not-hex"},
        github_headers(b"{}", secret="wrong"),
        github_headers(b"{ }"),  # signed another body
    ],
)
def test_a_wrong_or_missing_github_signature_gets_401_and_stores_nothing(headers: dict[str, str]) -> None:
    response = post(GITHUB, b"{}", **headers)
    assert (response.status_code, response.json()) == (401, {"error": "unauthorized"})
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_stripe_checks_the_timestamp_tolerance_and_accepts_any_matching_v1() -> None:
    body = b'{"id": "evt_1", "type": "charge.succeeded"}'
    stale = stripe_headers(body, at=int(time.time()) - 301)
    assert post(STRIPE, body, **stale).status_code == 401
    assert Job.objects.count() == 0
    fresh = stripe_headers(body, extra_v1="ab" * 32)  # a signature of a rolled secret first
    assert post(STRIPE, body, **fresh).status_code == 202
    assert inbox("stripe")[0].payload["body"]["type"] == "charge.succeeded"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", "Basic " + TOKEN, "Bearer " + "t\u00f6ken".encode().decode("latin-1"), "Bearer"],
)
def test_a_wrong_missing_or_non_ascii_bearer_token_gets_401_with_a_challenge(
    authorization: str | None,
) -> None:
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = post(BEARER, b"{}", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="webhook"'
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_the_configured_response_and_the_authorization_header_is_redacted() -> None:
    response = post(BEARER, b'{"x": 1}', HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert (response.status_code, response.json(), response["X-Hook"]) == (200, {"ok": 1}, "yes")
    assert inbox("bearer")[0].payload["headers"]["authorization"] == REDACTED


@pytest.mark.django_db
def test_keep_headers_extends_the_allow_list_but_never_to_the_auth_header() -> None:
    webhooks = {"KEEP_HEADERS": ["X-Sender-Token", "authorization"]}
    with override_settings(ONESTEP={"WEBHOOKS": webhooks}):
        response = post(BEARER, b"{}", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_X_SENDER_TOKEN="abc")
    assert response.status_code == 200
    headers = inbox("bearer")[0].payload["headers"]
    assert (headers["x-sender-token"], headers["authorization"]) == ("abc", REDACTED)


@pytest.mark.django_db
def test_wrong_method_is_405_with_allow_but_only_after_authentication() -> None:
    client = Client()
    assert client.get(BEARER).status_code == 401
    response = client.get(BEARER, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert (response.status_code, response["Allow"]) == (405, "POST, PUT")
    assert client.delete(OPEN).status_code == 405
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_a_body_one_byte_over_the_limit_gets_413_and_one_at_the_limit_is_accepted() -> None:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    at_limit = b'"' + b"a" * (LIMIT - 2) + b'"'
    assert post(BEARER, at_limit + b" ", **auth).status_code == 413
    assert Job.objects.count() == 0
    assert post(BEARER, at_limit, **auth).status_code == 200


@pytest.mark.django_db
def test_the_project_wide_max_body_bytes_caps_every_source() -> None:
    with override_settings(ONESTEP={"WEBHOOKS": {"MAX_BODY_BYTES": 10}}):
        assert Client().post(OPEN, b'"' + b"a" * 9 + b'"', content_type="application/json").status_code == 413
    assert Client().post(OPEN, b'"' + b"a" * 9 + b'"', content_type="application/json").status_code == 202


def chunked_request(body: bytes, *, terminated: bool) -> Any:
    request = RequestFactory().generic(
        "POST", BEARER, b"", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    request.META.pop("CONTENT_LENGTH", None)
    request.META["CONTENT_TYPE"] = "application/json"
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    request.META["wsgi.input"] = io.BytesIO(body)
    if terminated:
        request.META["wsgi.input_terminated"] = True
    return request


@pytest.mark.django_db
def test_a_body_without_length_is_read_as_it_comes_and_413_past_the_limit() -> None:
    view = view_module.WebhookView("/hooks/bearer", [r for r in _routes() if r.task == "bearer"])
    assert view(chunked_request(b"x" * (LIMIT + 1), terminated=True)).status_code == 413
    assert view(chunked_request(b"{}", terminated=False)).status_code == 411
    assert Job.objects.count() == 0
    assert view(chunked_request(b'{"chunked": true}', terminated=True)).status_code == 200
    assert inbox("bearer")[0].payload["body"] == {"chunked": True}


@pytest.mark.django_db
def test_a_body_shorter_than_its_content_length_is_400() -> None:
    request = chunked_request(b"{}", terminated=False)
    del request.META["HTTP_TRANSFER_ENCODING"]
    request.META["CONTENT_LENGTH"] = "50"
    view = view_module.WebhookView("/hooks/bearer", [r for r in _routes() if r.task == "bearer"])
    response = view(request)
    assert (response.status_code, json.loads(response.content)) == (400, {"error": "incomplete_body"})
    assert Job.objects.count() == 0


def _routes() -> list[Any]:
    from django_onestep.webhooks.routes import webhook_routes

    return webhook_routes(webhook_urls.app)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"{not json", "application/json", "invalid_json"),
        (b"[" * 65 + b"]" * 65, "application/json", "too_deeply_nested"),
        (b"[" * 50000, "application/json", "invalid_json"),
        (b'{"a": NaN}', "application/json", "invalid_json"),
        (b'"\xff\xfe"', "application/json", "invalid_json"),
        (b'{"a": "\\ud800"}', "application/json", "invalid_json"),  # a lone surrogate
        (b'{"\\udfff": 1}', "application/json", "invalid_json"),
    ],
)
def test_malformed_bodies_get_a_400_json_error(body: bytes, content_type: str, error: str) -> None:
    response = Client().post(OPEN, body, content_type=content_type)
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_invalid_utf8_under_the_auto_parser_is_400() -> None:
    body = b"\xff\xfe junk"
    response = post(
        BEARER, body, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", CONTENT_TYPE="application/octet-stream"
    )
    assert (response.status_code, response.json()) == (400, {"error": "invalid_utf8"})


@pytest.mark.django_db
def test_a_repeated_delivery_id_is_accepted_and_stored_once() -> None:
    body = b"{}"
    for _ in range(3):
        assert post(GITHUB, body, **github_headers(body, delivery="same")).status_code == 202
    assert post(GITHUB, body, **github_headers(body, delivery="other")).status_code == 202
    stripe_body = b'{"id": "evt_9"}'
    for _ in range(2):
        assert post(STRIPE, stripe_body, **stripe_headers(stripe_body)).status_code == 202
    assert [job.dedupe_key for job in inbox("github")] == ["same", "other"]
    assert [job.dedupe_key for job in inbox("stripe")] == ["evt_9"]


@pytest.mark.django_db(transaction=True)
def test_a_delivery_repeated_after_it_ran_does_not_run_again() -> None:
    webhook_urls.handled.clear()
    body = b'{"once": true}'
    assert post(GITHUB, body, **github_headers(body, delivery="d-done")).status_code == 202
    assert run_until_idle(webhook_urls.app, tasks=["github"], timeout_s=30).succeeded == 1
    assert inbox("github")[0].dedupe_key is None  # the queue forgot it when the job settled
    assert post(GITHUB, body, **github_headers(body, delivery="d-done")).status_code == 202
    assert run_until_idle(webhook_urls.app, tasks=["github"], timeout_s=30).succeeded == 0
    assert len(webhook_urls.handled) == 1 and len(inbox("github")) == 1


@pytest.mark.django_db
def test_delivery_ids_are_forgotten_with_the_done_jobs() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from django_onestep.models import WebhookDelivery
    from django_onestep.webhooks.inbox import WebhookInbox

    body = b"{}"
    for delivery in ("old", "new"):
        assert post(GITHUB, body, **github_headers(body, delivery=delivery)).status_code == 202
    WebhookDelivery.objects.filter(delivery_id="old").update(received_at=timezone.now() - timedelta(days=8))
    WebhookInbox("webhook:github", done_retention_s=7 * 24 * 3600).prune_sync()
    assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == ["new"]


@pytest.mark.django_db
def test_the_views_are_csrf_exempt() -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(OPEN, b"{}", content_type="application/json").status_code == 202


@pytest.mark.django_db
def test_an_unavailable_inbox_answers_503_so_the_sender_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("database is down")

    monkeypatch.setattr(view_module, "store_event", broken)
    response = Client().post(OPEN, b"{}", content_type="application/json")
    assert (response.status_code, response["Retry-After"]) == (503, "5")


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_what_the_view_accepted() -> None:
    webhook_urls.handled.clear()
    body = b'{"n": 1}'
    assert post(GITHUB, body, **github_headers(body)).status_code == 202
    summary = run_until_idle(webhook_urls.app, tasks=["github"], timeout_s=30)
    assert summary.succeeded == 1
    assert [event["body"] for event in webhook_urls.handled] == [{"n": 1}]
    assert inbox("github")[0].status == "done"


@pytest.mark.django_db(transaction=True)
def test_a_dead_letter_and_the_admin_never_show_the_credentials() -> None:
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from django_onestep.models import DeadLetter

    secret_cookie = "sessionid=c00kie-value"
    response = post(
        "/onestep/hooks/failing", b'{"x": 1}', HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_COOKIE=secret_cookie
    )
    assert response.status_code == 202
    assert run_until_idle(webhook_urls.app, tasks=["failing"], timeout_s=30).dead_lettered == 1
    letter = DeadLetter.objects.get()
    assert letter.payload["headers"]["authorization"] == REDACTED
    assert letter.payload["headers"]["cookie"] == REDACTED
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("admin", "a@example.com", "pw"))
    details = [
        reverse("admin:django_onestep_deadletter_change", args=[letter.pk]),
        reverse("admin:django_onestep_job_change", args=[inbox("failing")[0].pk]),
    ]
    for page in [*details, reverse("admin:django_onestep_job_changelist")]:
        html = admin.get(page).content.decode()
        assert f"Bearer {TOKEN}" not in html and "c00kie-value" not in html, page
        # the headers are shown, redacted: stored as "[redacted]", which the console masks again
        assert page not in details or ("authorization" in html and ("[redacted]" in html or "***" in html)), (
            page
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"a\x00b", "text/plain"),
        (b'{"a": "\\u0000"}', "application/json"),
        (b"a=%00", "application/x-www-form-urlencoded"),
    ],
)
def test_a_nul_character_is_400_on_every_database_and_stores_nothing(body: bytes, content_type: str) -> None:
    # PostgreSQL's JSON cannot hold U+0000: a 503 there would make the sender retry for ever
    response = Client().post(BEARER, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert (response.status_code, response.json()) == (400, {"error": "invalid_body"})
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_random_bodies_content_types_and_methods_never_raise() -> None:
    import random

    rng = random.Random(9)
    client = Client()
    fragments = [
        b"{",
        b"}",
        b"[",
        b"]",
        b'"',
        b"\\u",
        b"d800",
        b"NaN",
        b"1e999",
        b"\xff",
        b"\x00",
        b":",
        b",",
        b"a=%ff&",
    ]
    content_types = [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "",
        "x/y+json",
        "multipart/x",
    ]
    for _ in range(300):
        body = b"".join(rng.choice(fragments) for _ in range(rng.randint(0, 40)))
        method = rng.choice(["POST", "PUT", "GET", "DELETE", "PATCH"])
        path = rng.choice([OPEN, BEARER, GITHUB, STRIPE])
        response = client.generic(
            method, path, body, content_type=rng.choice(content_types), HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
        )
        assert response.status_code < 500, (path, method, body)
