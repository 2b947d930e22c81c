"""``MySQLConnector(using=alias)`` reads Django's DATABASES through the Django layer."""

from __future__ import annotations

import pytest
from django.db import connection

from django_onestep.connectors.mysql import MySQLConnector
from django_onestep.core.errors import ConfigurationError


def test_an_unknown_alias_names_the_ones_there_are() -> None:
    source = MySQLConnector(using="legacy").table_queue("t", "id", "a = 1", {"a": 2}, {"a": 3})
    with pytest.raises(
        ConfigurationError, match=r"using='legacy': no such alias in DATABASES \(have: default\)"
    ):
        source.preflight()


@pytest.mark.django_db
def test_the_default_alias_is_used_as_django_connects_or_refused_when_not_mysql() -> None:
    connector = MySQLConnector(using="default")
    assert repr(connector) == "MySQLConnector(using='default')"
    if connection.vendor != "mysql":
        with pytest.raises(
            ConfigurationError, match=f"using='default': that database is {connection.vendor}, not MySQL"
        ):
            connector.params()
        return
    conn = connector.connect()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT DATABASE()")
            assert cursor.fetchone() == (connection.settings_dict["NAME"],)
    finally:
        conn.close()
