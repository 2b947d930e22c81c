"""``MySQLConnector.table_sink`` against the real MariaDB: insert, upsert, update, and the unique-index check."""

from __future__ import annotations

import uuid

import pytest

from django_onestep.connectors.mysql import MySQLConnector
from django_onestep.core.errors import ConfigurationError
from tests.integration.mysql_tables import execute
from tests.needs import require_module

require_module("MySQLdb")


def scores_table(url: str, *, unique: bool = True) -> str:
    name = f"scores_{uuid.uuid4().hex[:10]}"
    index = ", UNIQUE KEY (player, game)" if unique else ""
    execute(
        url,
        f"CREATE TABLE {name} (id BIGINT AUTO_INCREMENT PRIMARY KEY, player VARCHAR(20) NOT NULL,"
        f" game VARCHAR(20) NOT NULL, points INT NOT NULL DEFAULT 0{index})",
    )
    return name


def rows(url: str, table: str) -> list[tuple[object, ...]]:
    return execute(url, f"SELECT player, game, points FROM {table} ORDER BY player, game")


async def test_insert_writes_one_row_or_a_batch(mysql_url: str) -> None:
    table = scores_table(mysql_url)
    sink = MySQLConnector(mysql_url).table_sink(table)
    await sink.publish({"player": "ann", "game": "go", "points": 3})
    await sink.publish([{"player": "bob", "game": "go", "points": 1}, {"player": "cy", "game": "go"}])
    assert rows(mysql_url, table) == [("ann", "go", 3), ("bob", "go", 1), ("cy", "go", 0)]
    await sink.close()


async def test_upsert_inserts_then_updates_the_row_with_the_same_keys(mysql_url: str) -> None:
    table = scores_table(mysql_url)
    sink = MySQLConnector(mysql_url).table_sink(table, mode="upsert", keys=("player", "game"))
    await sink.open()
    await sink.publish(
        [{"player": "ann", "game": "go", "points": 3}, {"player": "bob", "game": "go", "points": 1}]
    )
    await sink.publish({"player": "ann", "game": "go", "points": 9})
    assert rows(mysql_url, table) == [("ann", "go", 9), ("bob", "go", 1)]
    await sink.close()


async def test_update_changes_only_matching_rows_and_inserts_none(mysql_url: str) -> None:
    table = scores_table(mysql_url)
    execute(mysql_url, f"INSERT INTO {table} (player, game, points) VALUES ('ann', 'go', 1)")
    sink = MySQLConnector(mysql_url).table_sink(table, mode="update", keys=["player", "game"])
    await sink.publish(
        [{"player": "ann", "game": "go", "points": 5}, {"player": "zed", "game": "go", "points": 7}]
    )
    assert rows(mysql_url, table) == [("ann", "go", 5)]
    with pytest.raises(ValueError, match=r"lacks the key column\(s\) \['game'\]"):
        await sink.publish({"player": "ann", "points": 2})
    with pytest.raises(ValueError, match=r"column\(s\) \['score'\] not in table"):
        await sink.publish({"player": "ann", "game": "go", "score": 2})
    await sink.close()


def test_upsert_without_a_unique_index_on_the_keys_fails_at_startup(mysql_url: str) -> None:
    table = scores_table(mysql_url, unique=False)
    sink = MySQLConnector(mysql_url).table_sink(table, mode="upsert", keys=("player", "game"))
    with pytest.raises(ConfigurationError) as caught:
        sink.preflight()
    assert str(caught.value) == (
        f"mysql table_sink {table!r} keys: upsert needs a unique index (or primary key) on ['player', 'game']; "
        "the table has none, so rows would be inserted twice"
    )
    MySQLConnector(mysql_url).table_sink(
        table, mode="upsert", keys=("id",)
    ).preflight()  # the primary key covers it


def test_modes_and_keys_are_checked_when_declared() -> None:
    connector = MySQLConnector("mysql://db/shop")
    with pytest.raises(
        ConfigurationError, match=r"mode: must be one of \['insert', 'upsert', 'update'\], got 'merge'"
    ):
        connector.table_sink("t", mode="merge")
    with pytest.raises(ConfigurationError, match="keys: mode='update' needs the key columns"):
        connector.table_sink("t", mode="update")
    with pytest.raises(ConfigurationError, match="keys: 'id; --' is not a column name"):
        connector.table_sink("t", mode="upsert", keys=["id; --"])
