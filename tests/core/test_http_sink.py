"""HttpSink against a real local http.server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from django_onestep import ConnectorErrorKind, ConnectorOperationError, Envelope, HttpSink
from django_onestep.core.http.http_sink import HttpSinkStatusError
from tests.core.http_helpers import base_url, http_server


@pytest.fixture
def server() -> Iterator:
    with http_server() as srv:
        yield srv


async def test_posts_envelope_body_as_json(server) -> None:
    sink = HttpSink("out", url=base_url(server) + "/ok", headers={"Authorization": "Bearer t"})
    await sink.send(Envelope({"order": 7, "items": ["a"]}, {"k": "v"}, 0))
    (req,) = server.requests
    assert (req.method, req.path) == ("POST", "/ok")
    assert req.json() == {"order": 7, "items": ["a"]}
    assert req.headers["content-type"] == "application/json"
    assert req.headers["authorization"] == "Bearer t"


async def test_credentials_in_the_url_are_sent_as_basic_auth(server) -> None:
    # urllib cannot send "user:pass@host" URLs (it looks the whole netloc up as a host)
    url = base_url(server).replace("http://", "http://hook%40user:p%3Ass@") + "/ok"
    await HttpSink("basic", url=url).send(Envelope({"n": 1}))
    explicit = HttpSink("explicit", url=url, headers={"Authorization": "Bearer t"})
    await explicit.send(Envelope({"n": 2}))
    first, second = server.requests
    assert first.headers["authorization"] == "Basic aG9va0B1c2VyOnA6c3M="  # hook@user:p:ss
    assert (first.path, first.json()) == ("/ok", {"n": 1})
    assert second.headers["authorization"] == "Bearer t"


async def test_templates_in_url_headers_params_and_body(server) -> None:
    sink = HttpSink(
        "out",
        url=base_url(server) + "/orders/{{ body.id }}",
        method="put",
        headers={"X-Attempt": "{{ attempts }}", "X-Trace": "t-{{ meta.trace }}"},
        params={"tenant": "{{ meta.tenant }}"},
        body={"id": "{{ body.id }}", "note": "order {{ body.id }}", "tags": ["{{ body.tags.0 }}"]},
    )
    await sink.publish({"id": 42, "tags": ["x", "y"]}, meta={"trace": "abc", "tenant": "acme"}, attempts=2)
    (req,) = server.requests
    assert (req.method, req.path) == ("PUT", "/orders/42?tenant=acme")
    assert req.json() == {"id": 42, "note": "order 42", "tags": ["x"]}
    assert (req.headers["x-attempt"], req.headers["x-trace"]) == ("2", "t-abc")


async def test_get_sends_body_mapping_as_query_and_no_body(server) -> None:
    sink = HttpSink("ping", url=base_url(server) + "/ok?fixed=1", method="GET", params={"p": 1})
    await sink.send(Envelope({"q": "x y"}))
    (req,) = server.requests
    assert (req.method, req.path, req.body) == ("GET", "/ok?fixed=1&p=1&q=x+y", b"")


@pytest.mark.parametrize(
    ("status", "kind", "retry_delay_s"),
    [
        (500, ConnectorErrorKind.TRANSIENT, None),
        (503, ConnectorErrorKind.TRANSIENT, None),
        (408, ConnectorErrorKind.TRANSIENT, None),
        (429, ConnectorErrorKind.THROTTLED, 7.0),
        (400, ConnectorErrorKind.PERMANENT, None),
        (404, ConnectorErrorKind.PERMANENT, None),
        (302, ConnectorErrorKind.PERMANENT, None),
    ],
)
async def test_status_classification(server, status: int, kind, retry_delay_s) -> None:
    sink = HttpSink("out", url=base_url(server) + f"/status/{status}")
    with pytest.raises(ConnectorOperationError) as info:
        await sink.send(Envelope({"a": 1}))
    err = info.value
    assert err.kind is kind
    assert err.retryable is kind.retryable
    assert (err.backend, err.operation.value, err.source_name) == ("http_sink", "send", "out")
    assert err.retry_delay_s == retry_delay_s
    assert isinstance(err.cause, HttpSinkStatusError)
    assert err.cause.status == status
    assert str(err).startswith(f"http_sink send failed for 'out': HTTP {status}")
    assert len(server.requests) == 1  # a redirect is not followed


async def test_custom_success_statuses(server) -> None:
    await HttpSink("out", url=base_url(server) + "/status/409", success_statuses=[409]).send(Envelope(1))
    assert len(server.requests) == 1


async def test_connection_refused_is_disconnected_and_hides_credentials() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = HttpSink("out", url=f"http://user:pw@127.0.0.1:{port}/x?token=secret")
    with pytest.raises(ConnectorOperationError) as info:
        await sink.send(Envelope({}))
    assert info.value.kind is ConnectorErrorKind.DISCONNECTED
    assert "pw" not in str(info.value) and "secret" not in str(info.value)
    # the credentials became an Authorization header, so the URL shown has none; it
    # really connected (refused), where urllib used to look "user:pw@127.0.0.1" up in DNS
    assert f"POST http://127.0.0.1:{port}/x failed: ConnectionRefusedError" in str(info.value)


async def test_timeout_is_disconnected(server) -> None:
    sink = HttpSink("out", url=base_url(server) + "/slow", timeout_s=0.3)
    with pytest.raises(ConnectorOperationError) as info:
        await sink.send(Envelope({}))
    assert info.value.kind is ConnectorErrorKind.DISCONNECTED


async def test_broken_http_is_transient(server) -> None:
    sink = HttpSink("out", url=base_url(server) + "/garbage")
    with pytest.raises(ConnectorOperationError) as info:
        await sink.send(Envelope({}))
    assert info.value.kind is ConnectorErrorKind.TRANSIENT


async def test_missing_template_variable_is_misconfigured(server) -> None:
    sink = HttpSink("out", url=base_url(server) + "/orders/{{ body.missing }}")
    with pytest.raises(ConnectorOperationError) as info:
        await sink.send(Envelope({"id": 1}))
    assert info.value.kind is ConnectorErrorKind.MISCONFIGURED
    assert "template variable 'body.missing' is not in the envelope" in str(info.value)
    assert server.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://x"}, "HttpSink url must be an http(s) URL; got 'ftp://x'"),
        ({"url": ""}, "HttpSink url must be a non-empty string"),
        ({"url": "http://x", "timeout_s": 0}, "HttpSink timeout_s: must be > 0, got 0"),
        (
            {"url": "http://x", "timeout_s": float("nan")},
            "HttpSink timeout_s: must be a finite number, got nan",
        ),
        ({"url": "http://x", "success_statuses": [99]}, "success_statuses must be HTTP status codes"),
        ({"url": "http://x", "success_statuses": 200}, "success_statuses must be HTTP status codes; got 200"),
        ({"url": "http://x", "headers": ["a"]}, "HttpSink headers must be a mapping; got list"),
    ],
)
def test_bad_configuration(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        HttpSink("out", **kwargs)
    assert message in str(info.value)


def test_descriptor_redacts_secrets() -> None:
    sink = HttpSink(
        "out", url="https://u:p@api.example.com/hook?key=s", headers={"Authorization": "x"}, body={}
    )
    assert sink.control_plane_descriptor() == {
        "kind": "http_sink",
        "name": "out",
        "config": {
            "url": "https://***@api.example.com/hook",
            "method": "POST",
            "headers": {"Authorization": "<redacted>"},
            "params": {},
            "timeout_s": 5.0,
            "success_statuses": [200, 201, 202, 204],
            "body": "<redacted>",
        },
    }
