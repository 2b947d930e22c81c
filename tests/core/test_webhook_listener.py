"""The standalone listener, driven by raw socket requests including malformed ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from django_onestep import BearerAuth, WebhookResponse, WebhookSource
from tests.core.webhook_helpers import request, send_raw


@pytest.fixture
async def hook() -> AsyncIterator[WebhookSource]:
    source = WebhookSource(
        path="/hooks/github",
        port=0,
        auth=BearerAuth("s3cret"),
        max_body_bytes=64,
        read_timeout_s=1.0,
        queue_maxsize=2,
        poll_interval_s=0.05,
    )
    await source.open()
    try:
        yield source
    finally:
        await source.close()


AUTH = {"Authorization": "Bearer s3cret"}


async def test_accepts_json_and_delivers_event(hook: WebhookSource) -> None:
    body = b'{"ref": "main"}'
    resp = await send_raw(
        hook.bound_port,
        request(
            "POST",
            "/hooks/github/?a=1",
            body,
            {**AUTH, "Content-Type": "application/json", "X-GitHub-Event": "push"},
        ),
    )
    assert resp.status == 202
    assert resp.json() == {"accepted": True}
    assert resp.headers["connection"] == "close"
    (delivery,) = await hook.fetch(10)
    event = delivery.payload
    assert event["body"] == {"ref": "main"}
    assert event["headers"]["x-github-event"] == "push"
    assert event["headers"]["authorization"] == "Bearer s3cret"
    assert event["query"] == {"a": "1"}
    assert (event["method"], event["path"]) == ("POST", "/hooks/github/")
    assert event["client"]["host"] == "127.0.0.1"
    assert isinstance(event["client"]["port"], int)
    assert event["received_at"].endswith("+00:00")
    assert delivery.envelope.meta == {"source": "webhook:/hooks/github"}
    assert hook.url == f"http://127.0.0.1:{hook.bound_port}/hooks/github"


async def test_unknown_path_404_wrong_method_405_with_allow(hook: WebhookSource) -> None:
    resp = await send_raw(hook.bound_port, request("POST", "/nope", b"{}", AUTH))
    assert (resp.status, resp.json()) == (404, {"error": "not_found"})
    resp = await send_raw(hook.bound_port, request("GET", "/hooks/github", b"", AUTH))
    assert (resp.status, resp.json(), resp.headers["allow"]) == (405, {"error": "method_not_allowed"}, "POST")


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Basic s3cret", "Bearer s3cret-and-more"])
async def test_bad_auth_401_with_challenge_and_nothing_buffered(
    hook: WebhookSource, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    resp = await send_raw(hook.bound_port, request("POST", "/hooks/github", b"{}", headers))
    assert resp.status == 401
    assert resp.json() == {"error": "unauthorized"}
    assert resp.headers["www-authenticate"] == 'Bearer realm="webhook"'
    assert hook.pending_count == 0


async def test_bad_json_is_400(hook: WebhookSource) -> None:
    resp = await send_raw(
        hook.bound_port,
        request("POST", "/hooks/github", b"{nope", {**AUTH, "Content-Type": "application/json"}),
    )
    assert (resp.status, resp.json()) == (400, {"error": "invalid_json"})
    assert hook.pending_count == 0


async def test_declared_body_too_large_is_413_without_reading(hook: WebhookSource) -> None:
    head = request("POST", "/hooks/github", b"", {**AUTH, "Content-Length": "100000"}, content_length=False)
    resp = await send_raw(hook.bound_port, head + b"x" * 1000)
    assert (resp.status, resp.json()) == (413, {"error": "payload_too_large"})


async def test_chunked_body_is_counted_while_streaming(hook: WebhookSource) -> None:
    head = request(
        "POST", "/hooks/github", b"", {**AUTH, "Transfer-Encoding": "chunked"}, content_length=False
    )
    big = b"".join(b"20\r\n" + b"a" * 32 + b"\r\n" for _ in range(10)) + b"0\r\n\r\n"
    resp = await send_raw(hook.bound_port, head + big)
    assert (resp.status, resp.json()) == (413, {"error": "payload_too_large"})
    small = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    resp = await send_raw(hook.bound_port, head + small)
    assert resp.status == 202
    (delivery,) = await hook.fetch(1)
    assert delivery.payload["body"] == "hello world"


async def test_lying_content_length_longer_than_body_times_out_408(hook: WebhookSource) -> None:
    head = request("POST", "/hooks/github", b"", {**AUTH, "Content-Length": "50"}, content_length=False)
    resp = await send_raw(hook.bound_port, head + b"short")
    assert (resp.status, resp.json()) == (408, {"error": "request_timeout"})


async def test_lying_content_length_then_close_is_400(hook: WebhookSource) -> None:
    head = request("POST", "/hooks/github", b"", {**AUTH, "Content-Length": "50"}, content_length=False)
    resp = await send_raw(hook.bound_port, head + b"short", half_close=True)
    assert (resp.status, resp.json()) == (400, {"error": "incomplete_body"})


async def test_lying_content_length_shorter_than_body_reads_only_declared_bytes(hook: WebhookSource) -> None:
    head = request("POST", "/hooks/github", b"", {**AUTH, "Content-Length": "4"}, content_length=False)
    resp = await send_raw(hook.bound_port, head + b"abcd" + b"z" * 5000)
    assert resp.status == 202
    (delivery,) = await hook.fetch(1)
    assert delivery.payload["body"] == "abcd"


async def test_no_content_length_means_empty_body(hook: WebhookSource) -> None:
    resp = await send_raw(hook.bound_port, request("POST", "/hooks/github", b"", AUTH))
    assert resp.status == 202
    (delivery,) = await hook.fetch(1)
    assert delivery.payload["body"] is None


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"GARBAGE\r\n\r\n", "invalid_request_line"),
        (b"POST /hooks/github\r\n\r\n", "invalid_request_line"),
        (b"POST /hooks/github HTTP/2.0\r\n\r\n", "invalid_request_line"),
        (b"P@ST /hooks/github HTTP/1.1\r\n\r\n", "invalid_request_line"),
        (b"POST hooks/github HTTP/1.1\r\n\r\n", "invalid_request_target"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", "invalid_request_line"),
        (b"POST /hooks/github HTTP/1.1\r\nNoColonHere\r\n\r\n", "invalid_header"),
        (b"POST /hooks/github HTTP/1.1\r\nBad Name: x\r\n\r\n", "invalid_header"),
        (b"POST /hooks/github HTTP/1.1\r\n folded: x\r\n\r\n", "invalid_header"),
        (
            b"POST /hooks/github HTTP/1.1\r\nAuthorization: Bearer s3cret\r\nContent-Length: abc\r\n\r\n",
            "invalid_content_length",
        ),
        (
            b"POST /hooks/github HTTP/1.1\r\nAuthorization: Bearer s3cret\r\nContent-Length: -1\r\n\r\n",
            "invalid_content_length",
        ),
        (
            b"POST /hooks/github HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "conflicting_header",
        ),
        (
            b"POST /hooks/github HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n"
            b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
            "conflicting_length",
        ),
        (
            b"POST /hooks/github HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
            "invalid_chunk",
        ),
    ],
)
async def test_malformed_requests_get_400(hook: WebhookSource, raw: bytes, error: str) -> None:
    resp = await send_raw(hook.bound_port, raw)
    assert (resp.status, resp.json()) == (400, {"error": error})


async def test_unsupported_transfer_encoding_501(hook: WebhookSource) -> None:
    raw = b"POST /hooks/github HTTP/1.1\r\nAuthorization: Bearer s3cret\r\nTransfer-Encoding: gzip\r\n\r\n"
    resp = await send_raw(hook.bound_port, raw)
    assert (resp.status, resp.json()) == (501, {"error": "unsupported_transfer_encoding"})


async def test_huge_header_block_is_431(hook: WebhookSource) -> None:
    raw = b"POST /hooks/github HTTP/1.1\r\nX-Big: " + b"a" * (100 * 1024) + b"\r\n\r\n"
    resp = await send_raw(hook.bound_port, raw)
    assert (resp.status, resp.json()) == (431, {"error": "headers_too_large"})


async def test_slow_client_headers_time_out_408(hook: WebhookSource) -> None:
    resp = await send_raw(hook.bound_port, b"POST /hooks/github HTTP/1.1\r\nHost: x\r\n")
    assert (resp.status, resp.json()) == (408, {"error": "request_timeout"})


async def test_slowloris_dribbling_headers_still_times_out(hook: WebhookSource) -> None:
    resp = await send_raw(
        hook.bound_port, b"POST /hooks/github HTTP/1.1\r\n", chunks=[b"X-A: 1\r\n"] * 20, pause_s=0.1
    )
    assert resp.status == 408


async def test_partial_request_then_close_is_400(hook: WebhookSource) -> None:
    resp = await send_raw(hook.bound_port, b"POST /hooks/github HTTP/1.1\r\nHo", half_close=True)
    assert (resp.status, resp.json()) == (400, {"error": "incomplete_request"})


async def test_full_buffer_is_503_then_accepts_after_fetch(hook: WebhookSource) -> None:
    for _ in range(2):
        assert (await send_raw(hook.bound_port, request("POST", "/hooks/github", b"x", AUTH))).status == 202
    resp = await send_raw(hook.bound_port, request("POST", "/hooks/github", b"x", AUTH))
    assert (resp.status, resp.json(), resp.headers["retry-after"]) == (503, {"error": "queue_full"}, "1")
    assert len(await hook.fetch(10)) == 2
    assert (await send_raw(hook.bound_port, request("POST", "/hooks/github", b"x", AUTH))).status == 202


async def test_expect_100_continue(hook: WebhookSource) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", hook.bound_port)
    writer.write(
        request("POST", "/hooks/github", b"", {**AUTH, "Content-Length": "2", "Expect": "100-continue"})
    )
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"ok")
    final = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    assert final.startswith(b"HTTP/1.1 202 Accepted\r\n")


async def test_retry_requeues_with_attempts_and_delay_without_capacity_check(hook: WebhookSource) -> None:
    for _ in range(2):
        await send_raw(hook.bound_port, request("POST", "/hooks/github", b"x", AUTH))
    first, second = await hook.fetch(10)
    await first.retry()
    await second.retry(delay_s=0.2)
    (again,) = await hook.fetch(10)
    assert again.envelope.attempts == 1
    later = await hook.fetch(10) or await hook.fetch(10) or await hook.fetch(10) or await hook.fetch(10)
    for _ in range(100):
        if later:
            break
        later = await hook.fetch(10)
    assert [d.envelope.attempts for d in later] == [1]


async def test_shared_listener_routes_and_custom_response() -> None:
    a = WebhookSource(
        path="/a", port=0, parser="text", response=WebhookResponse(200, "thanks", {"X-Id": "7"})
    )
    b = WebhookSource(path="/b", methods=("PUT", "post"), port=0, parser="raw")
    await a.open()
    await b.open()
    try:
        assert a.bound_port == b.bound_port
        resp = await send_raw(a.bound_port, request("POST", "/a", b"hello"))
        assert (resp.status, resp.body, resp.headers["x-id"]) == (200, b"thanks", "7")
        resp = await send_raw(a.bound_port, request("PUT", "/b", b"\x00\x01"))
        assert resp.status == 202
        resp = await send_raw(a.bound_port, request("DELETE", "/b", b""))
        assert (resp.status, resp.headers["allow"]) == (405, "POST, PUT")
        assert [d.payload["body"] for d in await a.fetch(5)] == ["hello"]
        assert [d.payload["body"] for d in await b.fetch(5)] == [b"\x00\x01"]
        duplicate = WebhookSource(path="/a/", port=0)
        with pytest.raises(ValueError, match="duplicate webhook route POST /a"):
            await duplicate.open()
    finally:
        await a.close()
        port = b.bound_port
        assert (await send_raw(port, request("POST", "/a", b"x"))).status == 404
        await b.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "x"}, "webhook path must start with '/'; got 'x'"),
        ({"path": "/x", "parser": "xml"}, "parser must be one of auto, form, json, raw, text; got 'xml'"),
        ({"path": "/x", "methods": ()}, "methods must be a non-empty list"),
        ({"path": "/x", "methods": ("FETCH",)}, "unknown HTTP method"),
        ({"path": "/x", "methods": 5}, "methods must be a non-empty list of HTTP methods; got 5"),
        ({"path": "/x", "host": 5}, "host must be a non-empty string; got 5"),
        ({"path": "/x", "max_body_bytes": -1}, "max_body_bytes: must be >= 0, got -1"),
        ({"path": "/x", "read_timeout_s": 0}, "read_timeout_s: must be > 0, got 0"),
        ({"path": "/x", "read_timeout_s": float("nan")}, "read_timeout_s: must be a finite number, got nan"),
        (
            {"path": "/x", "poll_interval_s": float("inf")},
            "poll_interval_s: must be a finite number, got inf",
        ),
        ({"path": "/x", "queue_maxsize": 0}, "queue_maxsize: must be >= 1, got 0"),
        ({"path": "/x", "port": 70000}, "port: must be between 0 and 65535, got 70000"),
    ],
)
def test_bad_configuration_names_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        WebhookSource(**kwargs)
    assert message in str(info.value)


async def test_mutated_requests_never_get_a_500(hook: WebhookSource) -> None:
    """Byte flips, truncations and insertions of a valid request: always a 2xx/4xx/5xx
    answer from the documented set, never 500, and the listener keeps serving."""
    import random

    rng = random.Random(20261123)
    valid = request(
        "POST",
        "/hooks/github?x=1",
        b'{"a": [1, 2, {"b": "c"}]}',
        {**AUTH, "Content-Type": "application/json", "X-Extra": "value"},
    )
    allowed = {202, 400, 401, 404, 405, 408, 413, 431, 501, 503}
    statuses: set[int] = set()
    for _ in range(60):
        data = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            action = rng.choice(("flip", "cut", "insert"))
            position = rng.randrange(len(data))
            if action == "flip":
                data[position] = rng.randrange(256)
            elif action == "cut":
                del data[position : position + rng.randint(1, 8)]
            else:
                data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        response = await send_raw(hook.bound_port, bytes(data), half_close=True)
        assert response.status in allowed, (bytes(data), response.status_line)
        statuses.add(response.status)
        if hook.pending_count:
            await hook.fetch(100)  # keep the buffer from filling up
    assert 400 in statuses
    ok = await send_raw(hook.bound_port, valid)
    assert ok.status == 202


async def test_connection_limit_answers_503() -> None:
    source = WebhookSource(path="/limited", port=0, max_connections=1, read_timeout_s=5)
    await source.open()
    try:
        _, idle_writer = await asyncio.open_connection("127.0.0.1", source.bound_port)
        idle_writer.write(b"POST /limited HTTP/1.1\r\n")  # holds the only slot
        await idle_writer.drain()
        await asyncio.sleep(0.1)
        resp = await send_raw(source.bound_port, request("POST", "/limited", b"x"))
        assert (resp.status, resp.json(), resp.headers["retry-after"]) == (
            503,
            {"error": "too_many_connections"},
            "1",
        )
        idle_writer.close()
        for _ in range(100):  # the slot frees once the idle client is gone
            resp = await send_raw(source.bound_port, request("POST", "/limited", b"x"))
            if resp.status == 202:
                break
            await asyncio.sleep(0.05)
        assert resp.status == 202
    finally:
        await source.close()
