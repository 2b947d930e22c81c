"""Map boto3/botocore failures to ConnectorOperationError kinds, with secrets scrubbed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django_onestep.core.errors import (
    ConnectorErrorKind,
    ConnectorOperation,
    ConnectorOperationError,
)

__all__ = ["SQSError", "classify", "error_code", "secret_tokens", "to_connector_error"]

BACKEND = "sqs"
_REDACTED = "***"
_MAX_MESSAGE_CHARS = 500
_SECRET_KEYS = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "password", "token"}
)
_THROTTLED = frozenset(
    {"throttling", "throttlingexception", "requestthrottled", "toomanyrequestsexception", "slowdown"}
)
_TRANSIENT = frozenset({"requesttimeout", "internalerror", "serviceunavailable", "internalfailure"})
_MISCONFIGURED = frozenset(
    {
        "accessdenied",
        "accessdeniedexception",
        "invalidclienttokenid",
        "signaturedoesnotmatch",
        "unrecognizedclientexception",
        "aws.simplequeueservice.nonexistentqueue",
        "queuedoesnotexist",
        "invalidaddress",
    }
)


class SQSError(Exception):
    """A driver error whose text has been scrubbed of secrets (kept as ``cause``)."""


def secret_tokens(options: Mapping[str, Any] | None) -> list[str]:
    return [str(v) for k, v in (options or {}).items() if str(k).lower() in _SECRET_KEYS and v]


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def classify(exc: BaseException) -> ConnectorErrorKind:
    import botocore.exceptions as be

    if isinstance(exc, be.NoRegionError | be.NoCredentialsError | be.PartialCredentialsError):
        return ConnectorErrorKind.MISCONFIGURED
    if isinstance(exc, be.ParamValidationError):
        return ConnectorErrorKind.PERMANENT
    if isinstance(exc, be.ClientError):
        code = error_code(exc).lower()
        if code in _THROTTLED:
            return ConnectorErrorKind.THROTTLED
        if code in _TRANSIENT:
            return ConnectorErrorKind.TRANSIENT
        if code in _MISCONFIGURED:
            return ConnectorErrorKind.MISCONFIGURED
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return ConnectorErrorKind.TRANSIENT if status >= 500 else ConnectorErrorKind.PERMANENT
    # EndpointConnectionError, ConnectionClosedError, read/connect timeouts, OSError.
    if isinstance(exc, be.BotoCoreError | OSError | TimeoutError):
        return ConnectorErrorKind.DISCONNECTED
    return ConnectorErrorKind.PERMANENT


def scrub(text: str, tokens: Iterable[str]) -> str:
    for token in sorted(set(tokens), key=len, reverse=True):
        text = text.replace(token, _REDACTED)
    return text[:_MAX_MESSAGE_CHARS]


def to_connector_error(
    exc: BaseException,
    *,
    operation: ConnectorOperation,
    source_name: str,
    tokens: Iterable[str],
    retry_delay_s: float | None = None,
) -> ConnectorOperationError:
    if isinstance(exc, ConnectorOperationError):
        return exc
    return ConnectorOperationError(
        backend=BACKEND,
        operation=operation,
        kind=classify(exc),
        source_name=source_name,
        retry_delay_s=retry_delay_s,
        cause=SQSError(scrub(f"{type(exc).__name__}: {exc}", tokens)),
    )
