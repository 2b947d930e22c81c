"""Keep secrets (URL passwords, option passwords, access keys) out of connector errors.

Every broker connector wraps driver errors into ``ConnectorOperationError`` with a text
scrubbed by :func:`scrub`, and shows its URL through :func:`redact_url`, so a wrong
password or a failing connection never prints the secret in a log line, a traceback
or a repr.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from django_onestep.core.errors import (
    ConnectorErrorKind,
    ConnectorOperation,
    ConnectorOperationError,
)

__all__ = ["REDACTED", "redact_url", "scrub", "secret_tokens", "wrap_error"]

REDACTED = "***"
_MAX_MESSAGE_CHARS = 500


# Query parameters that carry a secret (redis-py reads ``?password=...`` from the URL).
_SECRET_QUERY = re.compile(r"(?i)((?:^|&)[^=&]*(?:pass|secret|token)[^=&]*=)([^&]*)")


def redact_url(url: str) -> str:
    """``amqp://user:secret@host/`` -> ``amqp://user:***@host/`` (for logs and reprs).

    Secret-looking query parameters (``?password=...``) are replaced too.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<invalid url>"
    if parts.query:
        parts = parts._replace(query=_SECRET_QUERY.sub(rf"\g<1>{REDACTED}", parts.query))
    if password:
        host = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:" if parts.username else ":"
        parts = parts._replace(netloc=f"{user}{REDACTED}@{host}")
    return parts.geturl()


def secret_tokens(url: str | None, options: Mapping[str, Any] | None, keys: Collection[str]) -> list[str]:
    """Strings that must never appear in an error or a log line, longest first.

    The URL's password and secret query parameters (as written and percent-decoded),
    and the values of the option ``keys``; for a credentials object (pika's ``PlainCredentials``) its ``password``.
    """
    tokens: set[str] = set()
    if url:
        try:
            parts = urlsplit(url)
            password, query = parts.password, parts.query
        except ValueError:
            password, query = None, ""
        if password:
            tokens |= {password, unquote(password)}
        for match in _SECRET_QUERY.finditer(query):
            if match.group(2):
                tokens |= {match.group(2), unquote(match.group(2))}
    for key, value in (options or {}).items():
        if str(key).lower() not in keys or not value:
            continue
        secret = value if isinstance(value, str) else getattr(value, "password", None)
        if isinstance(secret, bytes):
            secret = secret.decode("utf-8", "replace")
        if isinstance(secret, str) and secret:
            tokens.add(secret)
    return sorted(tokens, key=lambda token: (-len(token), token))


def scrub(text: str, tokens: Iterable[str]) -> str:
    """``text`` with every token replaced, cut to a length fit for one log line."""
    for token in sorted(set(tokens), key=len, reverse=True):
        if token:
            text = text.replace(token, REDACTED)
    return text[:_MAX_MESSAGE_CHARS]


def wrap_error(
    exc: BaseException,
    *,
    backend: str,
    classify: Callable[[BaseException], ConnectorErrorKind],
    error_type: Callable[[str], Exception],
    operation: ConnectorOperation,
    source_name: str,
    tokens: Iterable[str],
    retry_delay_s: float | None = None,
    kind: ConnectorErrorKind | None = None,
) -> ConnectorOperationError:
    """A ConnectorOperationError whose ``cause`` is ``error_type(<scrubbed driver text>)``.

    ``kind`` defaults to ``classify(exc)``; an error that already is a
    ConnectorOperationError is returned as it is. The driver's exception is not kept:
    its text (and its own cause chain) may hold the secret. Raise the result ``from None``
    for the same reason.
    """
    if isinstance(exc, ConnectorOperationError):
        return exc
    # pika's AMQPConnectionError has an empty str(); its args say "connection refused".
    text = str(exc) or "; ".join(str(arg) or repr(arg) for arg in exc.args)
    detail = scrub(f"{type(exc).__name__}: {text}", tokens)
    return ConnectorOperationError(
        backend=backend,
        operation=operation,
        kind=kind or classify(exc),
        source_name=source_name,
        retry_delay_s=retry_delay_s,
        cause=error_type(detail),
    )
