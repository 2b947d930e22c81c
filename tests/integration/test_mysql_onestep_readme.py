"""onestep's README MySQL example (YAML) runs unchanged against MariaDB, its binlog resource aside.

django-onestep has no ``mysql_binlog``; everything else in the example is used as
written: the ``mysql+pymysql://`` DSN, the cursor store, the incremental source with
``cursor: [updated_at, id]`` and the upsert table sink.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django_onestep.core.declarative.loader import load_yaml_app
from tests.integration.mysql_tables import execute
from tests.needs import require_module

require_module("MySQLdb")

README_YAML = """
resources:
  db:
    type: mysql
    dsn: {dsn}
  cursor:
    type: mysql_cursor_store
    connector: db
  changed_rows:
    type: mysql_incremental
    connector: db
    table: {orders}
    key: id
    cursor: [updated_at, id]
    state: cursor
  processed:
    type: mysql_table_sink
    connector: db
    table: {processed}
    mode: upsert
    keys: [id]
tasks:
  - name: run
    source: changed_rows
    emit: [processed]
    handler:
      ref: tests.integration.test_mysql_onestep_readme:run
"""


async def run(ctx: Any, row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "total": row["total"] * 2}


async def test_the_readme_example_syncs_orders_into_processed_orders(mysql_url: str, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    orders, processed = f"orders_{suffix}", f"processed_orders_{suffix}"
    execute(mysql_url, f"CREATE TABLE {orders} (id BIGINT PRIMARY KEY, total INT, updated_at DATETIME(6))")
    execute(mysql_url, f"CREATE TABLE {processed} (id BIGINT PRIMARY KEY, total INT)")
    execute(mysql_url, f"INSERT INTO {orders} VALUES (1, 10, NOW(6)), (2, 20, NOW(6)), (3, 30, NOW(6))")
    parts = urlsplit(mysql_url)
    dsn = f"mysql+pymysql://{parts.netloc}{parts.path}"  # the README's form
    path = tmp_path / "app.yaml"
    path.write_text("app: {name: readme}\n" + README_YAML.format(dsn=dsn, orders=orders, processed=processed))
    app = load_yaml_app(path)
    await asyncio.wait_for(app.serve(until_idle=True), 30)
    assert execute(mysql_url, f"SELECT id, total FROM {processed} ORDER BY id") == [(1, 20), (2, 40), (3, 60)]
    saved = execute(
        mysql_url,
        "SELECT cursor_value FROM onestep_cursor WHERE cursor_key = %s",
        (f"{orders}:updated_at,id:key=id:where=-",),
    )
    assert len(saved) == 1 and saved[0][0].endswith(", 3]")
