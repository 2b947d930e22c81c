"""Webhook request handling that does not depend on a socket: auth, parsers, responses.

The standalone listener (:mod:`webhook_listener`) and the Django view both use
these pure functions, so a request is authenticated, parsed and answered the same way
whichever server received it. Failures are :class:`WebhookHTTPError` carrying the
status, a small JSON body and headers; nothing here raises anything else on bad input.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from django_onestep.core.errors import ConfigurationError, OneStepError

__all__ = [
    "PARSERS",
    "BearerAuth",
    "WebhookAuth",
    "WebhookHTTPError",
    "WebhookResponse",
    "build_event",
    "normalize_path",
    "parse_body",
    "parse_query",
    "render_body",
    "secret_header_names",
    "verify_body",
]

PARSERS = ("auto", "form", "json", "raw", "text")
STATUS_TEXT = {
    100: "Continue",
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class WebhookHTTPError(OneStepError):
    """An HTTP error answer: ``status``, a JSON-able ``body`` and extra ``headers``."""

    def __init__(self, status: int, error: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, error)
        self.status = status
        self.body: dict[str, Any] = {"error": error}
        self.headers = dict(headers or {})


class WebhookAuth(Protocol):
    """What ``WebhookSource(auth=...)`` takes: ``BearerAuth``, ``HmacAuth`` or your own.

    ``authorize`` sees the lower-case headers before the body is read and raises
    ``WebhookHTTPError(401, ...)`` to refuse; an auth that signs the body also has
    ``verify(headers, body)`` (see :func:`verify_body`).
    """

    def authorize(self, headers: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class WebhookResponse:
    """The fixed answer to an accepted request (onestep: 202 ``{"accepted": true}``)."""

    status_code: int = 202
    body: Any = field(default_factory=lambda: {"accepted": True})
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.status_code, bool) or not isinstance(self.status_code, int):
            raise ConfigurationError(f"status_code must be an integer; got {self.status_code!r}")
        if not 200 <= self.status_code <= 299:
            raise ConfigurationError(f"status_code must be a 2xx status; got {self.status_code!r}")
        if not isinstance(self.headers, Mapping):
            raise ConfigurationError(f"WebhookResponse headers must be a mapping; got {self.headers!r}")

    def render(self) -> tuple[int, dict[str, str], bytes]:
        headers = {str(key): str(value) for key, value in self.headers.items()}
        payload, content_type = render_body(self.body)
        if content_type and not any(key.lower() == "content-type" for key in headers):
            headers["Content-Type"] = content_type
        return self.status_code, headers, payload


def render_body(body: Any) -> tuple[bytes, str | None]:
    """Bytes stay bytes, text is UTF-8, anything else is JSON; returns the content type."""
    if body is None:
        return b"", None
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(body).encode("utf-8"), "application/json"


@dataclass(frozen=True)
class BearerAuth:
    """``Authorization: Bearer <token>``; a wrong or missing token answers 401.

    The token is compared as bytes in constant time, and never logged or echoed.
    """

    token: str
    header: str = "authorization"
    scheme: str = "Bearer"
    realm: str = "webhook"

    def __post_init__(self) -> None:
        for name in ("token", "header", "scheme"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigurationError(f"BearerAuth {name} must be a non-empty string")

    def __repr__(self) -> str:  # never show the secret
        return f"BearerAuth(token='***', header={self.header!r}, scheme={self.scheme!r})"

    @property
    def secret_headers(self) -> tuple[str, ...]:
        """Header names that carry credentials (never stored in clear)."""
        return (self.header.lower(),)

    def challenge_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'{self.scheme} realm="{self.realm}"'}

    def authorize(self, headers: Mapping[str, str]) -> None:
        """Return when ``headers`` (lower-case names) carry the token, else raise 401."""
        presented = headers.get(self.header.lower(), "")
        scheme, _, token = presented.strip().partition(" ")
        # Header text arrives decoded as latin-1 (HTTP and WSGI both do): encoding it
        # back gives the wire bytes, compared with the configured token's UTF-8 bytes.
        try:
            presented_bytes = token.strip().encode("latin-1")
        except UnicodeEncodeError:
            presented_bytes = token.strip().encode("utf-8")
        expected = self.token.encode("utf-8")
        scheme_ok = scheme.lower() == self.scheme.lower()
        token_ok = hmac.compare_digest(presented_bytes, expected)
        if not (scheme_ok and token_ok):
            raise WebhookHTTPError(401, "unauthorized", headers=self.challenge_headers())


def verify_body(auth: WebhookAuth, headers: Mapping[str, str], body: bytes) -> None:
    """Second step of auths that sign the body (``HmacAuth``): raise 401 if it does not match.

    Called once the body is read and before it is parsed, so an unsigned body is never
    parsed nor stored. Header-only auths (``BearerAuth``) have no ``verify``.
    """
    verify = getattr(auth, "verify", None)
    if verify is not None:
        verify(headers, body)


def secret_header_names(auth: WebhookAuth | None) -> frozenset[str]:
    """The lower-case names of the headers ``auth`` reads credentials from."""
    return frozenset(name.lower() for name in getattr(auth, "secret_headers", ()))


def normalize_path(path: str) -> str:
    """Route paths start with ``/``; a trailing slash is ignored (``/a/`` == ``/a``)."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigurationError(f"webhook path must start with '/'; got {path!r}")
    return path.rstrip("/") or "/"


def _flatten(values: Mapping[str, list[str]]) -> dict[str, Any]:
    return {key: items[0] if len(items) == 1 else items for key, items in values.items()}


def parse_query(query: str) -> dict[str, Any]:
    """``a=1&b=2&b=3`` -> ``{"a": "1", "b": ["2", "3"]}`` (as onestep)."""
    return _flatten(parse_qs(query, keep_blank_values=True))


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookHTTPError(400, "invalid_form") from None
    return _flatten(parse_qs(text, keep_blank_values=True))


MAX_JSON_DEPTH = 64  # deeper documents are refused: no sender needs more, and storing them recurses


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN/Infinity: Python accepts them, JSON does not


def _json_depth(value: Any) -> int:
    """The nesting depth of ``value``; 400 for a lone surrogate (``"\\ud800"``) in a string,
    which is not Unicode text and which databases' JSON columns refuse."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise WebhookHTTPError(400, "invalid_json") from None
        elif isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _parse_json(body: bytes) -> Any:
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WebhookHTTPError(400, "invalid_json") from None
    if _json_depth(value) > MAX_JSON_DEPTH:
        raise WebhookHTTPError(400, "too_deeply_nested")
    return value


def parse_body(body: bytes, content_type: str, parser: str) -> Any:
    """Decode a request body with ``parser`` (``auto`` picks by Content-Type).

    An empty body is None. ``raw`` keeps bytes, ``text`` decodes UTF-8 (replacing bad
    bytes), ``json``/``form`` answer 400 on malformed input. ``auto``: form for
    ``application/x-www-form-urlencoded``, JSON for ``application/json`` and
    ``*+json``, text for ``text/*``, otherwise UTF-8 text or bytes if not UTF-8.
    """
    if not body:
        return None
    if parser == "raw":
        return bytes(body)
    if parser == "text":
        return body.decode("utf-8", errors="replace")
    if parser == "form":
        return _parse_form(body)
    if parser == "json":
        return _parse_json(body)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return _parse_form(body)
    if media_type == "application/json" or media_type.endswith("+json"):
        return _parse_json(body)
    if media_type.startswith("text/"):
        return body.decode("utf-8", errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(body)


def build_event(
    *,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    parser: str,
    client: tuple[str, int] | None,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """The payload a webhook task receives (onestep's shape)."""
    parts = urlsplit(target)
    lowered = {key.lower(): value for key, value in headers.items()}
    return {
        "body": parse_body(body, lowered.get("content-type", ""), parser),
        "headers": lowered,
        "query": parse_query(parts.query),
        "method": method,
        "path": parts.path or "/",
        "client": {"host": client[0] if client else None, "port": client[1] if client else None},
        "received_at": (received_at or datetime.now(UTC)).isoformat(),
    }
