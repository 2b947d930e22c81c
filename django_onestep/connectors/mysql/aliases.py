"""``MySQLConnector(using="legacy")``: a Django database alias, resolved by the Django layer.

The connectors import no Django, so the Django app registers a resolver here when it
starts (``django_onestep.project.mysql_alias``); it turns an alias into the same
``MySQLdb.connect`` parameters Django itself uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["register_alias_resolver", "resolve_alias"]

_resolver: list[Callable[[str], dict[str, Any]]] = []


def register_alias_resolver(resolver: Callable[[str], dict[str, Any]]) -> None:
    _resolver[:] = [resolver]


def resolve_alias(alias: str) -> dict[str, Any]:
    if not _resolver:
        raise ConfigurationError(
            f"MySQLConnector using={alias!r}: a Django alias needs Django set up with "
            "'django_onestep' in INSTALLED_APPS; or pass a dsn"
        )
    return _resolver[0](alias)
