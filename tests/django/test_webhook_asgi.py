"""limit_webhook_bodies: the view's first steps and the size limit before Django reads a body."""

from __future__ import annotations

import json
from typing import Any

import pytest

from django_onestep.webhooks.asgi import limit_webhook_bodies
from tests.django.webhook_urls import LIMIT, TOKEN

pytestmark = [pytest.mark.urls("tests.django.webhook_urls")]

AUTH = [(b"authorization", f"Bearer {TOKEN}".encode())]


class FakeDjango:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def call(
    path: str, headers: list, chunks: list[bytes], method: str = "POST", root_path: str = ""
) -> tuple[int, dict, FakeDjango]:
    django = FakeDjango()
    sent: list[dict] = []
    pending = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    received = 0

    async def receive() -> dict:
        nonlocal received
        received += 1
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": root_path + path,
        "root_path": root_path,
        "headers": headers,
    }
    await limit_webhook_bodies(django)(scope, receive, send)
    body = json.loads(sent[1]["body"]) if sent[1]["body"] else {}
    django.received = received  # type: ignore[attr-defined]
    return sent[0]["status"], body, django


async def test_a_declared_length_over_the_limit_is_413_before_any_body_is_read() -> None:
    status, body, django = await call(
        "/onestep/hooks/bearer", [*AUTH, (b"content-length", b"999999999")], [b"x"]
    )
    assert (status, body, django.bodies, django.received) == (413, {"error": "payload_too_large"}, [], 0)


async def test_auth_and_method_come_first_as_in_the_view() -> None:
    status, body, _ = await call("/onestep/hooks/bearer", [(b"content-length", b"999999999")], [b"x"])
    assert (status, body) == (401, {"error": "unauthorized"})
    status, body, _ = await call("/onestep/hooks/bearer", AUTH, [b""], method="GET")
    assert (status, body) == (405, {"error": "method_not_allowed"})


async def test_a_streamed_body_past_the_limit_is_413_and_one_within_is_replayed_to_django() -> None:
    chunks = [b"x" * 600, b"x" * 600]
    status, _, django = await call("/onestep/hooks/bearer", AUTH, chunks)
    assert (status, django.bodies) == (413, [])
    status, _, django = await call("/onestep/hooks/bearer", AUTH, [b'{"a":', b" 1}"])
    assert (status, django.bodies) == (202, [b'{"a": 1}'])
    assert LIMIT < 1200


async def test_other_urls_pass_through_untouched() -> None:
    status, _, django = await call("/elsewhere", [(b"content-length", b"999999999")], [b"raw"])
    assert (status, django.bodies) == (202, [b"raw"])


async def test_a_site_mounted_under_a_root_path_is_matched_without_it() -> None:
    huge = [*AUTH, (b"content-length", b"999999999")]
    status, _, django = await call("/onestep/hooks/bearer", huge, [b"x"], root_path="/site")
    assert (status, django.bodies) == (413, [])
