"""Secrets never reach connector errors, reprs or logs (shared by Redis, RabbitMQ, SQS)."""

from __future__ import annotations

import pytest

from django_onestep.connectors.redaction import redact_url, scrub, secret_tokens, wrap_error
from django_onestep.core.errors import ConnectorErrorKind, ConnectorOperation


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:s3cret@broker:5672/%2F", "amqp://guest:***@broker:5672/%2F"),
        ("redis://:s3cret@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("rediss://user:p%40ss@host/1", "rediss://user:***@host/1"),
        ("amqp://user:p@ss@host/", "amqp://user:***@host/"),  # an unencoded @ in the password
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("amqp://user@host/", "amqp://user@host/"),
        ("redis://:pw@[::1:6379/0", "<invalid url>"),
        # redis-py reads a password from the query too
        ("redis://localhost/0?password=s3cret&db=1", "redis://localhost/0?password=***&db=1"),
        (
            "redis://h/0?socket_timeout=5&ssl_password=x&auth_token=y",
            "redis://h/0?socket_timeout=5&ssl_password=***&auth_token=***",
        ),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


class PlainCredentials:  # the shape of pika's credentials object
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password


def test_secret_tokens_from_the_url_and_the_secret_options() -> None:
    options = {
        "password": "opt-pw",
        "credentials": PlainCredentials("bob", "cred-pw"),
        "heartbeat": 10,
        "client_properties": {"name": "not-a-secret"},
        "token": None,
    }
    tokens = secret_tokens("amqp://u:p%40ss@h/", options, {"password", "credentials", "token"})
    assert tokens == ["cred-pw", "opt-pw", "p%40ss", "p@ss"]  # longest first, both spellings
    assert secret_tokens("redis://localhost/0", None, {"password"}) == []
    assert secret_tokens("redis://h/0?db=1&password=a%2Fb", None, ()) == ["a%2Fb", "a/b"]
    assert secret_tokens(None, {"AWS_SECRET_ACCESS_KEY": "k"}, {"aws_secret_access_key"}) == ["k"]


def test_scrub_replaces_every_token_and_bounds_the_length() -> None:
    assert scrub("login ab/abc failed for abc", ["ab", "abc"]) == "login ***/*** failed for ***"
    assert scrub("x" * 600, []) == "x" * 500


class EmptyTextError(Exception):
    """pika's AMQPConnectionError: str() is empty, the reason is in args."""

    def __str__(self) -> str:
        return ""


def test_wrap_error_scrubs_and_does_not_keep_the_driver_exception() -> None:
    class DriverError(Exception):
        pass

    error = wrap_error(
        RuntimeError("auth failed for amqp://u:s3cret@h/ with key AKID1"),
        backend="rabbitmq",
        classify=lambda exc: ConnectorErrorKind.MISCONFIGURED,
        operation=ConnectorOperation.OPEN,
        source_name="jobs",
        tokens=["s3cret", "AKID1"],
        error_type=DriverError,
        retry_delay_s=2.0,
    )
    assert str(error) == (
        "rabbitmq open failed (misconfigured) for jobs: "
        "DriverError: RuntimeError: auth failed for amqp://u:***@h/ with key ***"
    )
    assert type(error.cause) is DriverError and error.cause.__cause__ is None
    assert (error.kind, error.retry_delay_s) == (ConnectorErrorKind.MISCONFIGURED, 2.0)

    refused = wrap_error(
        EmptyTextError("ConnectionRefusedError(111, 'Connection refused')"),
        backend="rabbitmq",
        classify=lambda exc: ConnectorErrorKind.TRANSIENT,
        kind=ConnectorErrorKind.DISCONNECTED,  # the caller's kind wins over classify's
        operation=ConnectorOperation.FETCH,
        source_name="jobs",
        tokens=[],
        error_type=DriverError,
    )
    assert str(refused.cause) == "EmptyTextError: ConnectionRefusedError(111, 'Connection refused')"
    assert refused.kind is ConnectorErrorKind.DISCONNECTED
    assert wrap_error(refused, backend="x", classify=lambda exc: ConnectorErrorKind.PERMANENT,
                      error_type=DriverError, operation=ConnectorOperation.FETCH, source_name="jobs",
                      tokens=[]) is refused  # fmt: skip
