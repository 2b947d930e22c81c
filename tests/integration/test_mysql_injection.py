"""Hostile names and ``where`` strings are refused before any statement reaches the server.

Checked against the real MariaDB with its general log on (as a table) and a canary
table each hostile string aims at: after every refusal the canary is still there and
the log holds no statement naming it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from django_onestep.connectors.mysql import MySQLConnector
from django_onestep.core.errors import ConfigurationError
from tests.integration.mysql_tables import execute
from tests.needs import require_module

require_module("MySQLdb")


def hostile(canary: str) -> list[str]:
    return [
        f"x; DROP TABLE {canary}", f"x`; DROP TABLE {canary}; --", f"x' OR 1=1; DELETE FROM {canary} #",
        f"{canary} /* */", f"{canary}--", f"{canary};", f"{canary} OR 1=1", f"`{canary}`", f"{canary}'",
        f'{canary}"', f"{canary}\u200b", f"\uff58{canary}", f"{canary}.x.y", f"({canary})", f"{canary},id",
        f"{canary}\\", f"{canary}\n", f"{canary}%s", f"1{canary}", f"{canary} ",
        f"{canary}\x00", f"{canary}\t", f"{canary}=1", f"{canary} UNION SELECT 1", f"{canary})--",
        f"{canary}#", f"{canary}*/", f"--{canary}", f"{canary}$$'", f"{canary} AND SLEEP(5)",
        f"{canary};SHUTDOWN", f"\u00e9{canary}", f"{canary}\U0001f4a5", f"{canary}.", f".{canary}", f"{canary}" + "x" * 60,
    ]  # fmt: skip


@pytest.fixture
def canary(mysql_url: str) -> Iterator[str]:
    name = f"canary_{uuid.uuid4().hex[:10]}"
    execute(mysql_url, f"CREATE TABLE {name} (id INT PRIMARY KEY, status VARCHAR(10))")
    execute(mysql_url, f"INSERT INTO {name} VALUES (1, 'new')")
    execute(mysql_url, "SET GLOBAL log_output = 'TABLE'")
    execute(mysql_url, "SET GLOBAL general_log = 'ON'")
    try:
        yield name
    finally:
        execute(mysql_url, "SET GLOBAL general_log = 'OFF'")


def attempts(connector: MySQLConnector, value: str) -> Iterator[tuple[str, Any]]:
    base = {
        "table": "t",
        "key": "id",
        "where": "status = 'new'",
        "claim": {"status": "a"},
        "ack": {"status": "b"},
    }
    for option, override in (
        ("table", {"table": value}), ("key", {"key": value}), ("claim", {"claim": {value: "x"}}),
        ("ack", {"ack": {value: "x"}}), ("fail", {"fail": {value: "x"}}), ("where", {"where": {value: 1}}),
    ):  # fmt: skip
        yield option, lambda override=override: connector.table_queue(**{**base, **override}).preflight()
    yield "cursor", lambda: connector.incremental("t", "id", cursor=(value,)).preflight()
    yield "sink keys", lambda: connector.table_sink("t", mode="upsert", keys=(value,)).preflight()


WHERES = [
    "status = 'new'; DROP TABLE {c}",
    "status = 'new' -- {c}",
    "status = 'new' # {c}",
    "status = /* {c} */ 1",
]


def test_forty_hostile_strings_never_reach_the_server(mysql_url: str, canary: str) -> None:
    connector = MySQLConnector(mysql_url)
    refused = 0
    strings = hostile(canary) + [w.format(c=canary) for w in WHERES]
    for value in strings:
        for _option, attempt in attempts(connector, value):
            with pytest.raises(ConfigurationError):
                attempt()
            refused += 1
    for where in WHERES:
        with pytest.raises(ConfigurationError):
            connector.table_queue("t", "id", where.format(c=canary), {"status": "a"}, {"status": "b"})
    assert len(strings) == 40 and refused == 40 * 8
    assert execute(mysql_url, f"SELECT status FROM {canary}") == [("new",)]
    logged = execute(
        mysql_url,
        "SELECT argument FROM mysql.general_log WHERE argument LIKE %s AND argument NOT LIKE %s"
        " AND argument NOT LIKE %s AND argument NOT LIKE %s AND argument NOT LIKE %s",
        (
            f"%{canary}%",
            "CREATE TABLE%",
            "INSERT INTO%",
            "SELECT status FROM%",
            "SELECT argument FROM mysql.%",
        ),
    )
    assert logged == []
