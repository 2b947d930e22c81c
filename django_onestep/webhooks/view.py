"""The Django view of one webhook path: authenticate, check, read, parse, store, answer.

In this order, each step answering on its own failure: auth (401, before a byte of the
body is read; a signature is checked once the body is read), method (405 with
``Allow``), size (413 from Content-Length before reading, and while reading a body
without one; the limit is the source's ``max_body_bytes``, capped by
``ONESTEP["WEBHOOKS"]["MAX_BODY_BYTES"]``), parse (400), store in the inbox (503 when the database is unavailable),
then the source's ``WebhookResponse`` (202 ``{"accepted": true}`` by default). Errors
are JSON ``{"error": "<code>"}``; no request makes it raise. The parsing, auth and
answers are the standalone listener's (``core.http.webhook_protocol``).

It is a sync view: under WSGI it runs in the request's thread and transaction; under
ASGI Django reads the body without blocking the event loop, then runs this view (and
its ORM write) in a thread of its own (Django's thread-sensitive context per request).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from django_onestep.conf import get_settings
from django_onestep.core.http.webhook_protocol import (
    WebhookHTTPError,
    build_event,
    secret_header_names,
    verify_body,
)
from django_onestep.webhooks.header_allowlist import redact_headers
from django_onestep.webhooks.inbox import store_event
from django_onestep.webhooks.routes import WebhookRoute

__all__ = ["WebhookView"]

logger = logging.getLogger("onestep.webhook")

_CHUNK_BYTES = 64 * 1024


class WebhookView:
    """One path's routes (one per method); CSRF-exempt, as senders carry no CSRF token."""

    csrf_exempt = True

    def __init__(self, path: str, routes: Sequence[WebhookRoute]) -> None:
        self.path = path
        self.routes = list(routes)
        self.by_method: dict[str, WebhookRoute] = {}
        for route in self.routes:
            for method in route.source.methods:
                self.by_method.setdefault(method, route)  # a clash is system check E009

    def __repr__(self) -> str:
        return f"WebhookView({self.path!r}, tasks={[route.task for route in self.routes]!r})"

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.handle(request)
        except WebhookHTTPError as exc:
            response = JsonResponse(exc.body, status=exc.status)
            for name, value in exc.headers.items():
                response[name] = value
            return response

    def precheck(self, method: str, headers: Mapping[str, str]) -> tuple[WebhookRoute, int]:
        """Steps before the body: auth (headers), method; returns the route and its body limit.

        Also run by the ASGI wrapper (``webhooks.asgi``) before Django reads the body.
        """
        route = self.by_method.get(method)
        # Authenticate first, with the auth of the path's first route when the method
        # has none: an unauthenticated client learns nothing, not even the methods.
        auth = (route or self.routes[0]).source.auth
        if auth is not None:
            auth.authorize(headers)
        if route is None:
            raise WebhookHTTPError(
                405, "method_not_allowed", headers={"Allow": ", ".join(sorted(self.by_method))}
            )
        return route, min(route.source.max_body_bytes, get_settings().WEBHOOKS["MAX_BODY_BYTES"])

    def handle(self, request: HttpRequest) -> HttpResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        method = (request.method or "").upper()
        route, limit = self.precheck(method, headers)
        source, auth = route.source, route.source.auth
        conf = get_settings()
        body = read_body(request, headers, limit)
        if auth is not None:
            verify_body(auth, headers, body)
        event = build_event(
            method=method,
            target=request.get_full_path(),
            headers=headers,
            body=body,
            parser=source.parser,
            client=_client(request),
        )
        if isinstance(event["body"], bytes):
            raise WebhookHTTPError(400, "invalid_utf8")  # the inbox stores JSON, not bytes
        if _has_nul(event):
            # PostgreSQL's JSON refuses U+0000 (and the database would be blamed with a
            # 503 the sender retries for ever): refused on every database alike.
            raise WebhookHTTPError(400, "invalid_body")
        keep = [
            *conf.WEBHOOKS["KEEP_HEADERS"],
            *([source.delivery_id] if isinstance(source.delivery_id, str) else []),
        ]
        delivery_id = source.delivery_key(event)  # from the request as received, before redaction
        stored = dict(event, headers=redact_headers(headers, keep=keep, secret=secret_header_names(auth)))
        try:
            store_event(route, stored, delivery_id=delivery_id, using=conf.DATABASE)
        except DatabaseError:
            logger.warning("webhook %s: the inbox is unavailable; answered 503", self.path, exc_info=True)
            raise WebhookHTTPError(503, "inbox_unavailable", headers={"Retry-After": "5"}) from None
        except ValueError:  # a value the JSON column refuses: the sender's input, not a bug
            raise WebhookHTTPError(400, "invalid_body") from None
        status, answer_headers, payload = source.response.render()
        response = HttpResponse(payload, status=status)
        for name, value in answer_headers.items():
            response[name] = value
        return response


def read_body(request: HttpRequest, headers: Mapping[str, str], limit: int) -> bytes:
    """At most ``limit`` bytes of body, else 413; never holds more than ``limit + 1`` bytes."""
    length_text = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    stream: Any = request
    if length_text is not None:
        if not (length_text.isascii() and length_text.isdigit()):
            raise WebhookHTTPError(400, "invalid_content_length")
        if int(length_text) > limit:
            raise WebhookHTTPError(413, "payload_too_large")
        if int(length_text) == 0:
            return b""
    elif chunked and isinstance(request, WSGIRequest):
        # Django's WSGI request reads nothing without a Content-Length; servers that
        # de-chunk the body (gunicorn) say so with wsgi.input_terminated.
        if not request.environ.get("wsgi.input_terminated"):
            raise WebhookHTTPError(411, "length_required")
        stream = request.environ["wsgi.input"]
    elif isinstance(request, WSGIRequest):
        return b""
    body = bytearray()
    try:
        while True:
            chunk = stream.read(min(_CHUNK_BYTES, limit + 1 - len(body)))
            if not chunk:
                break
            body += chunk
            if len(body) > limit:
                raise WebhookHTTPError(413, "payload_too_large")
    except OSError:  # the client went away mid-body (UnreadablePostError, gunicorn's NoMoreData)
        raise WebhookHTTPError(400, "incomplete_body") from None
    if length_text is not None and len(body) < int(length_text):
        raise WebhookHTTPError(400, "incomplete_body")  # a lying Content-Length, or a client gone
    return bytes(body)


def _has_nul(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _client(request: HttpRequest) -> tuple[str, int] | None:
    host = request.META.get("REMOTE_ADDR")
    if not host:
        return None
    try:
        port = int(request.META.get("REMOTE_PORT") or 0)
    except (TypeError, ValueError):
        port = 0
    return str(host), port
