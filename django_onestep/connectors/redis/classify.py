"""Map redis-py failures to ConnectorOperationError kinds, with secrets scrubbed.

The kind decides what the runner does: ``disconnected``/``transient`` are backed off and
retried (a Redis restart must be ridden out), ``misconfigured`` stops the worker with a
message a user can act on (wrong password, a key that is not a stream).
"""

from __future__ import annotations

from django_onestep.connectors import redaction
from django_onestep.connectors.redaction import redact_url
from django_onestep.core.errors import (
    ConnectorErrorKind,
    ConnectorOperation,
    ConnectorOperationError,
)

__all__ = ["BACKEND", "classify", "redact_url", "secret_tokens", "to_connector_error"]

BACKEND = "redis"
# Server replies no retry can fix. redis-py strips the "ERR " code from the message
# ("ERR DB index is out of range" arrives as "DB index is out of range").
_MISCONFIGURED_PREFIXES = (
    "WRONGTYPE",
    "NOPERM",
    "WRONGPASS",
    "NOAUTH",
    "unknown command",
    "ERR unknown command",
    "DB index is out of range",
)
# redis-py client options whose values are secrets (a credential provider has .password).
_SECRET_OPTION_KEYS = frozenset({"password", "ssl_password", "credential_provider"})


def secret_tokens(url: str, options: dict[str, object] | None = None) -> list[str]:
    """Substrings that must never reach a log line: the URL's password, option secrets."""
    return redaction.secret_tokens(url, options, _SECRET_OPTION_KEYS)


def classify(exc: BaseException) -> ConnectorErrorKind | None:
    """The kind for a redis-py (or socket) error; None for errors that are not Redis'."""
    try:
        from redis import exceptions as rexc
    except ImportError:  # pragma: no cover - the connector refuses to start without redis
        rexc = None  # type: ignore[assignment]
    if rexc is not None:
        if isinstance(exc, rexc.AuthenticationError | rexc.AuthorizationError | rexc.NoPermissionError):
            return ConnectorErrorKind.MISCONFIGURED
        if isinstance(exc, rexc.BusyLoadingError | rexc.ReadOnlyError | rexc.TryAgainError):
            return ConnectorErrorKind.TRANSIENT
        if isinstance(exc, rexc.ConnectionError | rexc.TimeoutError):
            return ConnectorErrorKind.DISCONNECTED
        if isinstance(exc, rexc.ResponseError):
            if str(exc).startswith(_MISCONFIGURED_PREFIXES):
                return ConnectorErrorKind.MISCONFIGURED
            # Anything else the server answers (NOGROUP after a flush, OOM, BUSY script)
            # may heal; the worker must not exit on it.
            return ConnectorErrorKind.TRANSIENT
    if isinstance(exc, ConnectionError | TimeoutError | OSError):
        return ConnectorErrorKind.DISCONNECTED
    return None


def to_connector_error(
    exc: BaseException,
    *,
    operation: ConnectorOperation,
    source_name: str,
    tokens: list[str],
    retry_delay_s: float | None = None,
) -> ConnectorOperationError | None:
    """Wrap ``exc`` (keeping it as ``cause``) or return None when it is not a Redis error."""
    kind = classify(exc)
    if kind is None:
        return None
    detail = redaction.scrub(f"{type(exc).__name__}: {exc}", tokens)
    return ConnectorOperationError(
        backend=BACKEND,
        operation=operation,
        kind=kind,
        source_name=source_name,
        retry_delay_s=retry_delay_s,
        cause=exc,
        message=f"redis {operation.value} failed ({kind.value}) for stream {source_name!r}: {detail}",
    )
