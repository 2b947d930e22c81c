"""YAML types ``mysql`` and ``mysql_table_queue`` build the same objects as the Python API."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from django_onestep.connectors.mysql import MySQLConnector, TableQueueSource
from django_onestep.core.declarative.loader import load_yaml_app
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
