"""Map mysqlclient (MySQLdb) failures to ConnectorOperationError kinds, with secrets scrubbed."""

from __future__ import annotations

import functools

from django_onestep.connectors import redaction
from django_onestep.core.errors import ConnectorErrorKind, OneStepError

__all__ = ["MySQLError", "classify", "to_connector_error"]

BACKEND = "mysql"
# Server error codes: access denied / unknown database; lock wait timeout / deadlock.
_MISCONFIGURED = frozenset({1044, 1045, 1049, 1142, 1143, 1146, 1054})
_TRANSIENT = frozenset({1205, 1213})
# Client error codes 2000-2999 are connection-level (gone away, lost, refused...).
_CLIENT_CODES = range(2000, 3000)


class MySQLError(OneStepError):
    """A driver error whose text has been scrubbed of secrets."""


def classify(exc: BaseException) -> ConnectorErrorKind:
    import MySQLdb

    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    if code in _MISCONFIGURED:
        return ConnectorErrorKind.MISCONFIGURED
    if code in _TRANSIENT:
        return ConnectorErrorKind.TRANSIENT
    if code in _CLIENT_CODES or isinstance(exc, OSError | TimeoutError):
        return ConnectorErrorKind.DISCONNECTED
    if isinstance(exc, MySQLdb.OperationalError):
        return ConnectorErrorKind.TRANSIENT
    return ConnectorErrorKind.PERMANENT


# ``to_connector_error(exc, operation=..., source_name=..., tokens=..., retry_delay_s=...)``
to_connector_error = functools.partial(
    redaction.wrap_error, backend=BACKEND, classify=classify, error_type=MySQLError
)
