"""``limit_webhook_bodies(app)``: webhook limits enforced before Django's ASGI handler reads.

Django's ASGI handler reads the whole request body (to a temporary file) before any
view runs, so without this wrapper a webhook under ASGI answers 413 only after an
oversized body was received, and a client that declares a huge ``Content-Length`` is
waited for. Wrapped, a request for a webhook URL gets the view's own first steps
(auth from the headers: 401; method: 405; ``Content-Length`` over the limit: 413)
before a byte of body is read, and a body without a length is counted as it arrives
and refused with 413 once past the limit. Other URLs pass through untouched.

    # asgi.py
    application = limit_webhook_bodies(get_asgi_application())
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django_onestep.core.http.webhook_protocol import WebhookHTTPError

__all__ = ["limit_webhook_bodies"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _webhook_view(path: str) -> Any:
    from django.urls import Resolver404, resolve

    from django_onestep.webhooks.view import WebhookView

    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.func if isinstance(match.func, WebhookView) else None


async def _answer(send: Send, error: WebhookHTTPError) -> None:
    payload = json.dumps(error.body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    headers += [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in error.headers.items()
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def limit_webhook_bodies(app: ASGIApp) -> ASGIApp:
    """Wrap Django's ASGI application (see the module docstring)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        path, root_path = str(scope.get("path", "")), str(scope.get("root_path", ""))
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]  # as Django's ASGI request computes path_info
        view = _webhook_view(path) if scope.get("type") == "http" else None
        if view is None:
            await app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            _, limit = view.precheck(str(scope.get("method", "")).upper(), headers)
            length = headers.get("content-length", "")
            if length.isascii() and length.isdigit() and int(length) > limit:
                raise WebhookHTTPError(413, "payload_too_large")
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left: nobody to answer
                body += message.get("body", b"")
                if len(body) > limit:
                    raise WebhookHTTPError(413, "payload_too_large")
                if not message.get("more_body", False):
                    break
        except WebhookHTTPError as error:
            await _answer(send, error)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await app(scope, replay, send)

    return wrapped
