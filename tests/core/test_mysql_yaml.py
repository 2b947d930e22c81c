"""YAML types ``mysql`` and ``mysql_table_queue`` build the same objects as the Python API."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from django_onestep.connectors.mysql import (
    IncrementalSource,
    MySQLConnector,
    MySQLCursorStore,
    MySQLStateStore,
    TableQueueSource,
    TableSink,
)
from django_onestep.core.declarative.loader import load_yaml_app
from django_onestep.core.declarative.registry import build_resources
from django_onestep.core.errors import ConfigurationError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(dedent(text))
    return path


def test_a_table_queue_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        app: {name: shop}
        resources:
          db: {type: mysql, dsn: "${SHOP_DB}"}
          orders: {type: mysql_table_queue, connector: db, table: orders, key: id, where: "status = %s",
                   where_params: [new], claim: {status: processing}, ack: {status: done},
                   fail: {status: failed}, batch_size: 20, lease_s: 60}
        tasks:
          - {name: ship, handler: {ref: "tests.core.test_mysql_yaml:ship"}, source: orders}
        """,
    )
    app = load_yaml_app(path, env={"SHOP_DB": "mysql://shop:topsecret@db/shop"})
    source = app.tasks[0].source
    assert isinstance(source, TableQueueSource) and isinstance(source.connector, MySQLConnector)
    assert (source.table, source.batch_size, source.lease_s) == ("orders", 20, 60.0)
    assert (source.sql.where, source.sql.where_params, source.sql.fail) == (
        "status = %s",
        ("new",),
        {"status": "failed"},
    )
    assert "topsecret" not in repr(source)


def test_an_unknown_field_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        app: {name: shop}
        resources:
          db: {type: mysql, dsn: "mysql://db/shop"}
          orders: {type: mysql_table_queue, connector: db, table: orders, key: id, where: "a = 1",
                   claim: {a: 2}, ack: {a: 3}, claim_column: status}
        tasks: []
        """,
    )
    with pytest.raises(ConfigurationError, match="claim_column"):
        load_yaml_app(path)


async def ship(ctx: object, row: object) -> None: ...


def test_an_incremental_source_with_its_cursor_store_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        app: {name: sync}
        resources:
          db: {type: mysql, dsn: "mysql://db/crm"}
          cursors: {type: mysql_cursor_store, connector: db, table: sync_cursors}
          state: {type: mysql_state_store, connector: db}
          users: {type: mysql_incremental, connector: db, table: users, key: id, cursor: [updated_at],
                  where: {active: 1}, batch_size: 500, state: cursors, lag_s: 2, on_failure: dead_letter}
        tasks:
          - {name: sync, handler: {ref: "tests.core.test_mysql_yaml:ship"}, source: users}
        """,
    )
    app = load_yaml_app(path)
    source = app.tasks[0].source
    assert isinstance(source, IncrementalSource)
    assert (source.cursor, source.batch_size, source.lag_s, source.on_failure) == (
        ("updated_at", "id"), 500, 2.0, "dead_letter"
    )  # fmt: skip
    assert isinstance(source.state, MySQLCursorStore) and source.state.table == "sync_cursors"
    assert source.state_key == "users:updated_at,id:key=id:where=active = 1"
    import yaml

    state = build_resources(yaml.safe_load(path.read_text()))["state"]
    assert isinstance(state, MySQLStateStore) and state.table == "onestep_state"


def test_a_table_sink_from_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        app: {name: scores}
        resources:
          db: {type: mysql, dsn: "mysql://db/games"}
          inbox: {type: memory}
          scores: {type: mysql_table_sink, connector: db, table: scores, mode: upsert, keys: [player, game]}
        tasks:
          - {name: score, handler: {ref: "tests.core.test_mysql_yaml:ship"}, source: inbox, emit: scores}
        """,
    )
    sink = load_yaml_app(path).tasks[0].emit[0]
    assert isinstance(sink, TableSink)
    assert (sink.table, sink.mode, sink.keys) == ("scores", "upsert", ("player", "game"))
