"""Map pika failures to ConnectorOperationError kinds, with secrets scrubbed.

The runner retries ``disconnected``/``transient`` errors with backoff and stops on
``misconfigured``/``permanent`` ones, so the classification decides whether a worker
rides out a broker restart (it must) or reports a wrong password at once (it should).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django_onestep.connectors import redaction
from django_onestep.connectors.redaction import redact_url
from django_onestep.core.errors import (
    ConnectorErrorKind,
    OneStepError,
)

__all__ = ["RabbitMQError", "classify", "redact_url", "secret_tokens", "to_connector_error"]

BACKEND = "rabbitmq"
# Option keys whose values are secrets (``credentials`` is a pika credentials object).
_SECRET_KEYS = frozenset({"password", "credentials", "secret", "token"})
# AMQP reply codes that mean the declaration or permission is wrong, not the network.
_MISCONFIGURED_REPLY_CODES = frozenset({403, 404, 406, 530})


class RabbitMQError(OneStepError):
    """A driver error whose text has been scrubbed of secrets (kept as ``cause``)."""


def secret_tokens(url: str, options: Mapping[str, Any] | None) -> list[str]:
    """Strings that must never appear in an error message or a log line."""
    return redaction.secret_tokens(url, options, _SECRET_KEYS)


def classify(exc: BaseException) -> ConnectorErrorKind:
    import pika.exceptions as pe

    if isinstance(exc, pe.ProbableAuthenticationError | pe.ProbableAccessDeniedError):
        return ConnectorErrorKind.MISCONFIGURED
    if isinstance(exc, pe.AuthenticationError | pe.IncompatibleProtocolError):
        return ConnectorErrorKind.MISCONFIGURED
    if isinstance(exc, pe.ChannelClosedByBroker):
        if exc.reply_code in _MISCONFIGURED_REPLY_CODES:
            return ConnectorErrorKind.MISCONFIGURED
        return ConnectorErrorKind.TRANSIENT
    if isinstance(exc, pe.ConnectionClosedByBroker) and exc.reply_code in _MISCONFIGURED_REPLY_CODES:
        return ConnectorErrorKind.MISCONFIGURED
    if isinstance(exc, pe.NackError):
        return ConnectorErrorKind.TRANSIENT
    if isinstance(exc, TypeError | ValueError):
        # pika rejecting a setting (a URL query parameter, a port, an argument type):
        # retrying cannot help, and "disconnected" would hide it behind reconnect logs.
        return ConnectorErrorKind.MISCONFIGURED
    # Lost sockets, a broker shutting down (320), heartbeats, timeouts, refused connects.
    return ConnectorErrorKind.DISCONNECTED


# ``to_connector_error(exc, operation=..., source_name=..., tokens=..., retry_delay_s=...)``
to_connector_error = functools.partial(
    redaction.wrap_error, backend=BACKEND, classify=classify, error_type=RabbitMQError
)
