"""The MySQL connector's checks that need no server: DSNs, names, ``where`` strings."""

from __future__ import annotations

from typing import Any

import pytest

from django_onestep.connectors.mysql.connector import MySQLConnector
from django_onestep.connectors.mysql.dsn import connect_params
from django_onestep.core.errors import ConfigurationError

HOSTILE = [
    "orders; DROP TABLE users", "orders --", "orders#", "orders/* x */", "id OR 1=1", "`id`", "id`",
    "i'd", 'i"d', "id)", "(id", "id,name", "id name", "id=1", "1id", "", " id", "id ", "id\n", "id\x00",
    "ïd", "id\u200b", "\uff49\uff44", "id\\", "a.b.c", "id;", "' OR '1'='1", "*/id", "--id", "id\t", "%s", "id%",
    "ID OR 1=1 --", "name`; DELETE FROM t; --", "x" * 65, "a..b", ".id", "id.", "💥", "id/**/",
]  # fmt: skip
HOSTILE_WHERE = [
    "status = 'new'; DELETE FROM orders", "status = 'new' -- and more", "status = 'new' # x",
    "status = /* x */ 'new'", "status = 'new", 'status = "new', "status = `new", "status = 'new' */",
    "status = 'a\\' OR 1=1",
]  # fmt: skip


def build(**options: Any) -> Any:
    arguments = {
        "table": "orders", "key": "id", "where": "status = 'new'", "claim": {"status": "processing"},
        "ack": {"status": "done"}, **options,
    }  # fmt: skip
    # Port 9 is never a MySQL server: had a check connected, the test would fail differently.
    return MySQLConnector("mysql://u:pw@127.0.0.1:9/db").table_queue(**arguments)


def test_forty_hostile_strings_are_refused_as_table_key_cursor_and_mapping_columns() -> None:
    assert len(HOSTILE) == 40
    for value in HOSTILE:
        for options in (
            {"table": value}, {"key": value}, {"claim": {value: "x"}}, {"ack": {value: "x"}},
            {"nack": {value: "x"}}, {"fail": {value: "x"}}, {"attempts_column": value}, {"where": {value: 1}},
        ):  # fmt: skip
            with pytest.raises(ConfigurationError) as caught:
                build(**options)
            assert repr(value) in str(caught.value) or value in str(caught.value), (options, caught.value)
        connector = MySQLConnector("mysql://u:pw@127.0.0.1:9/db")
        for options in ({"table": value}, {"key": value}, {"cursor": ("updated_at", value)}):
            arguments = {"table": "users", "key": "id", "cursor": ("updated_at",), **options}
            with pytest.raises(ConfigurationError):
                connector.incremental(**arguments)


@pytest.mark.parametrize("where", HOSTILE_WHERE)
def test_hostile_where_strings_are_refused(where: str) -> None:
    with pytest.raises(ConfigurationError, match="table_queue 'orders' where"):
        build(where=where)


def test_where_params_must_match_the_placeholders() -> None:
    assert build(where="status = %s", where_params=["new"]).sql.where_params == ("new",)
    with pytest.raises(ConfigurationError, match=r"where_params: 2 value\(s\) for 1 %s placeholder"):
        build(where="status = %s", where_params=["new", "old"])
    assert build(where="note LIKE 'a%'").sql.where == "note LIKE 'a%%'"  # a literal %, not a placeholder


def test_a_where_mapping_is_parameterised() -> None:
    sql = build(where={"status": "new", "note": None}).sql
    assert (sql.where, sql.where_params) == ("`status` = %s AND `note` IS NULL", ("new",))


def test_mapping_values_must_be_plain_values() -> None:
    with pytest.raises(ConfigurationError, match=r"claim\['status'\]: must be a plain value"):
        build(claim={"status": object()})
    with pytest.raises(ConfigurationError, match="ack: must be a non-empty mapping"):
        build(ack={})


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("mysql://app:p%40ss@db:3307/shop", {"host": "db", "port": 3307, "user": "app", "password": "p@ss"}),
        ("mysql+pymysql://app@db/shop?charset=utf8", {"host": "db", "user": "app", "charset": "utf8"}),
        ("mysql+mysqldb://db/shop?connect_timeout=5", {"host": "db", "connect_timeout": 5}),
    ],
)
def test_dsn_forms_onestep_users_have(dsn: str, expected: dict[str, Any]) -> None:
    params = connect_params(dsn)
    assert params["database"] == "shop"
    assert expected.items() <= params.items()


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("postgres://u:topsecret@h/db", "must start with mysql://"),
        ("mysql://u:topsecret@h", "name the database"),
        ("mysql://u:topsecret@h/db?ssl_mode=x", "unknown query parameter 'ssl_mode'"),
        ("mysql://u:topsecret@h:port/db", "Port could not be cast"),
    ],
)
def test_a_bad_dsn_is_refused_with_the_password_redacted(dsn: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        MySQLConnector(dsn)
    assert message in str(caught.value)
    assert "topsecret" not in str(caught.value)


def test_the_password_is_not_in_the_repr() -> None:
    connector = MySQLConnector("mysql://app:topsecret@db/shop")
    assert repr(connector) == "MySQLConnector(mysql://app:***@db/shop)"
    assert "topsecret" not in repr(build())


def test_dsn_or_alias_not_both() -> None:
    with pytest.raises(ConfigurationError, match="give a dsn"):
        MySQLConnector("mysql://db/shop", using="legacy")
    with pytest.raises(ConfigurationError, match="give a dsn"):
        MySQLConnector()
