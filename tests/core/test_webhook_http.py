"""Pure webhook pieces shared with the Django view: auth, parsers, responses, events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from django_onestep import BearerAuth, WebhookResponse
from django_onestep.core.http.webhook_protocol import (
    WebhookHTTPError,
    build_event,
    normalize_path,
    parse_body,
    parse_query,
)


def test_bearer_auth_accepts_exact_token_and_scheme_case_insensitively() -> None:
    auth = BearerAuth("s3cret")
    auth.authorize({"authorization": "Bearer s3cret"})
    auth.authorize({"authorization": "bearer s3cret"})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer s3cre"},
        {"authorization": "Bearer s3cret2"},
        {"authorization": "Basic s3cret"},
        {"authorization": "Bearer \u00e9"},
        {"x-other": "Bearer s3cret"},
    ],
)
def test_bearer_auth_rejects_with_401_and_challenge(headers: dict[str, str]) -> None:
    with pytest.raises(WebhookHTTPError) as info:
        BearerAuth("s3cret", realm="hooks").authorize(headers)
    assert info.value.status == 401
    assert info.value.body == {"error": "unauthorized"}
    assert info.value.headers == {"WWW-Authenticate": 'Bearer realm="hooks"'}


def test_bearer_auth_custom_header_non_ascii_token_and_secret_not_in_repr() -> None:
    auth = BearerAuth("p\u00e4ss", header="X-Hook-Token", scheme="Token")
    # the wire carries UTF-8 bytes, which servers decode as latin-1
    auth.authorize({"x-hook-token": "Token " + "p\u00e4ss".encode().decode("latin-1")})
    assert "p\u00e4ss" not in repr(auth)
    with pytest.raises(ValueError, match="BearerAuth token must be a non-empty string"):
        BearerAuth("")


def test_parse_body_by_parser() -> None:
    assert parse_body(b"", "application/json", "auto") is None
    assert parse_body(b'{"a": 1}', "application/json; charset=utf-8", "auto") == {"a": 1}
    assert parse_body(b'{"a": 1}', "application/vnd.api+json", "auto") == {"a": 1}
    assert parse_body(b"a=1&b=2&b=3&c=", "application/x-www-form-urlencoded", "auto") == {
        "a": "1",
        "b": ["2", "3"],
        "c": "",
    }
    assert parse_body(b"hi \xff", "text/plain", "auto") == "hi \ufffd"
    assert parse_body(b"plain", "", "auto") == "plain"
    assert parse_body(b"\xff\xfe", "application/octet-stream", "auto") == b"\xff\xfe"
    assert parse_body(b'{"a": 1}', "text/plain", "json") == {"a": 1}
    assert parse_body(b"x=1", "", "form") == {"x": "1"}
    assert parse_body(b"{raw}", "application/json", "raw") == b"{raw}"
    assert parse_body(b"{raw}", "application/json", "text") == "{raw}"


@pytest.mark.parametrize(
    ("body", "content_type", "parser", "error"),
    [
        (b"{not json", "application/json", "auto", "invalid_json"),
        (b"\xff\xfe", "application/json", "json", "invalid_json"),
        (b"[" * 100000, "application/json", "json", "invalid_json"),
        (b"a=\xff", "application/x-www-form-urlencoded", "auto", "invalid_form"),
    ],
)
def test_parse_body_rejects_malformed_with_400(
    body: bytes, content_type: str, parser: str, error: str
) -> None:
    with pytest.raises(WebhookHTTPError) as info:
        parse_body(body, content_type, parser)
    assert (info.value.status, info.value.body) == (400, {"error": error})


def test_build_event_shape() -> None:
    event = build_event(
        method="POST",
        target="/hooks/a?x=1&y=2&y=3",
        headers={"Content-Type": "application/json", "X-GitHub-Event": "push"},
        body=b'{"k": "v"}',
        parser="auto",
        client=("127.0.0.1", 5555),
        received_at=datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
    )
    assert event == {
        "body": {"k": "v"},
        "headers": {"content-type": "application/json", "x-github-event": "push"},
        "query": {"x": "1", "y": ["2", "3"]},
        "method": "POST",
        "path": "/hooks/a",
        "client": {"host": "127.0.0.1", "port": 5555},
        "received_at": "2026-01-05T12:00:00+00:00",
    }
    assert parse_query("") == {}


def test_webhook_response_render_and_validation() -> None:
    assert WebhookResponse().render() == (202, {"Content-Type": "application/json"}, b'{"accepted": true}')
    assert WebhookResponse(200, "ok", {"X-A": "1"}).render() == (
        200,
        {"X-A": "1", "Content-Type": "text/plain; charset=utf-8"},
        b"ok",
    )
    assert WebhookResponse(204, None).render() == (204, {}, b"")
    with pytest.raises(ValueError, match="status_code must be a 2xx status; got 500"):
        WebhookResponse(500)
    with pytest.raises(ValueError, match=r"^WebhookResponse headers must be a mapping; got 5$"):
        WebhookResponse(headers=5)  # type: ignore[arg-type]


def test_normalize_path() -> None:
    assert normalize_path("/a/b/") == "/a/b"
    assert normalize_path("/") == "/"
    with pytest.raises(ValueError, match="webhook path must start with '/'; got 'hooks'"):
        normalize_path("hooks")
