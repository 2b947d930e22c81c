"""``MySQLConnector(using="legacy")``: Django's connection settings for a database alias.

The MySQL connector imports no Django; this module, registered by the app's ``ready()``,
gives it the ``MySQLdb.connect`` parameters Django's own MySQL backend would use for
the alias (host, port, user, password, database, OPTIONS). Django's value converters
are left out, so rows read the same as through a DSN.
"""

from __future__ import annotations

from typing import Any

from django_onestep.connectors.mysql.aliases import register_alias_resolver
from django_onestep.core.errors import ConfigurationError

__all__ = ["connect_params_for_alias", "register"]


def connect_params_for_alias(alias: str) -> dict[str, Any]:
    from django.db import connections

    if alias not in connections.settings:
        known = ", ".join(sorted(connections.settings))
        raise ConfigurationError(
            f"MySQLConnector using={alias!r}: no such alias in DATABASES (have: {known})"
        )
    connection = connections[alias]
    if connection.vendor != "mysql":
        raise ConfigurationError(
            f"MySQLConnector using={alias!r}: that database is {connection.vendor}, not MySQL/MariaDB"
        )
    params: dict[str, Any] = dict(connection.get_connection_params())
    params.pop("conv", None)
    params.pop("client_flag", None)
    return params


def register() -> None:
    register_alias_resolver(connect_params_for_alias)
