"""Checks of a connector's constructor arguments shared by Redis, RabbitMQ and SQS.

They run when the connector is declared (tasks.py, settings, YAML), without importing
the client library, so a typo fails at once with the offending key or value named,
never as an outage the worker retries for ever. Passwords in URLs are shown redacted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from django_onestep.connectors.redaction import redact_url
from django_onestep.core.errors import ConfigurationError

__all__ = ["checked_options", "checked_url"]


def checked_url(owner: str, url: Any, schemes: tuple[str, ...]) -> str:
    """``url`` if it starts with one of ``schemes`` and its port (if any) is a number."""
    if not isinstance(url, str) or not url.startswith(schemes):
        shown = repr(redact_url(url)) if isinstance(url, str) else repr(url)
        allowed = ", ".join(schemes[:-1]) + f" or {schemes[-1]}" if len(schemes) > 1 else schemes[0]
        raise ConfigurationError(f"{owner} url: must start with {allowed}, got {shown}")
    if not url.startswith("unix://"):
        try:
            urlsplit(url).port  # noqa: B018 - parsing it is the check
        except ValueError as exc:
            raise ConfigurationError(f"{owner} url {redact_url(url)!r}: {exc}") from None
    return url


def checked_options(owner: str, options: Any, allowed: Collection[str] | None = None) -> dict[str, Any]:
    """A copy of ``options`` (a mapping, None = empty); with ``allowed``, no other key."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"{owner} options: must be a mapping, got {type(options).__name__}")
    if allowed is not None:
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ConfigurationError(f"{owner} options: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    return dict(options)
