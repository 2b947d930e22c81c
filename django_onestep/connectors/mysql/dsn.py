"""Connection parameters from the DSN forms onestep users have in their code.

``mysql://``, and SQLAlchemy's ``mysql+pymysql://`` / ``mysql+mysqldb://`` (the driver
part is ignored: mysqlclient is always used). Parsed without importing the driver, so a
typo fails when the connector is declared, with the password redacted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django_onestep.connectors.redaction import redact_url
from django_onestep.core.errors import ConfigurationError

__all__ = ["SCHEMES", "connect_params"]

SCHEMES = ("mysql://", "mysql+pymysql://", "mysql+mysqldb://", "mariadb://", "mariadb+mysqldb://")
# Query parameters passed through to MySQLdb.connect (others are refused, not ignored).
_QUERY_PARAMS = {"charset": str, "connect_timeout": int, "read_timeout": int, "write_timeout": int}


def connect_params(dsn: Any) -> dict[str, Any]:
    """``MySQLdb.connect`` keyword arguments for ``dsn``."""
    if not isinstance(dsn, str) or not dsn.startswith(SCHEMES):
        shown = repr(redact_url(dsn)) if isinstance(dsn, str) else repr(dsn)
        raise ConfigurationError(f"MySQLConnector dsn: must start with {', '.join(SCHEMES)}, got {shown}")
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"MySQLConnector dsn {redact_url(dsn)!r}: {exc}") from None
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ConfigurationError(
            f"MySQLConnector dsn {redact_url(dsn)!r}: name the database in the path (mysql://host/DBNAME)"
        )
    params: dict[str, Any] = {"database": database, "charset": "utf8mb4", "autocommit": False}
    if parts.hostname:
        params["host"] = unquote(parts.hostname)
    if port is not None:
        params["port"] = port
    if parts.username:
        params["user"] = unquote(parts.username)
    if parts.password:
        params["password"] = unquote(parts.password)
    for key, value in parse_qsl(parts.query):
        kind = _QUERY_PARAMS.get(key)
        if kind is None:
            raise ConfigurationError(
                f"MySQLConnector dsn: unknown query parameter {key!r}; allowed: {sorted(_QUERY_PARAMS)}"
            )
        try:
            params[key] = kind(value)
        except ValueError:
            raise ConfigurationError(f"MySQLConnector dsn: {key} must be a number, got {value!r}") from None
    return params
