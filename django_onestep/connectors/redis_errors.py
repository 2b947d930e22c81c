"""Map redis-py failures to ConnectorOperationError kinds, with secrets scrubbed.

The kind decides what the runner does: ``disconnected``/``transient`` are backed off and
retried (a Redis restart must be ridden out), ``misconfigured`` stops the worker with a
message a user can act on (wrong password, a key that is not a stream).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from django_onestep.core.errors import (
    ConnectorErrorKind,
    ConnectorOperation,
    ConnectorOperationError,
)

__all__ = ["BACKEND", "classify", "redact", "redact_url", "secret_tokens", "to_connector_error"]

BACKEND = "redis"
_REDACTED = "***"
_MAX_MESSAGE_CHARS = 500
_MISCONFIGURED_PREFIXES = ("WRONGTYPE", "NOPERM", "WRONGPASS", "NOAUTH", "ERR unknown command")
_SECRET_OPTION_KEYS = frozenset({"password", "username", "credential_provider", "ssl_password"})


def secret_tokens(url: str, options: dict[str, object] | None = None) -> list[str]:
    """Substrings that must never reach a log line: the URL's password, option secrets."""
    tokens: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is not None and parts.password:
        tokens.extend({parts.password, unquote(parts.password)})
    for key, value in (options or {}).items():
        if key in _SECRET_OPTION_KEYS and key != "username" and isinstance(value, str) and value:
            tokens.append(value)
    return sorted(tokens, key=len, reverse=True)


def redact(text: str, tokens: list[str]) -> str:
    for token in tokens:
        text = text.replace(token, _REDACTED)
    return text[:_MAX_MESSAGE_CHARS]


def redact_url(url: str) -> str:
    """``redis://user:secret@host:6379/0`` -> ``redis://user:***@host:6379/0``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return parts._replace(netloc=f"{user}{_REDACTED}@{netloc}").geturl()


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
    detail = redact(f"{type(exc).__name__}: {exc}", tokens)
    return ConnectorOperationError(
        backend=BACKEND,
        operation=operation,
        kind=kind,
        source_name=source_name,
        retry_delay_s=retry_delay_s,
        cause=exc,
        message=f"redis {operation.value} failed ({kind.value}) for stream {source_name!r}: {detail}",
    )
