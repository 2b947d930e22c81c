"""YAML resource types ``mysql`` and ``mysql_table_queue`` (onestep's field names).

    resources:
      db: {type: mysql, dsn: "${LEGACY_DB_URL}"}
      orders: {type: mysql_table_queue, connector: db, table: orders, key: id,
               where: "status = 'new'", claim: {status: processing}, ack: {status: done},
               fail: {status: failed}}

Registered when this module is imported; mysqlclient itself is only imported when a
source opens.
"""

from __future__ import annotations

from typing import Any

from django_onestep.connectors.mysql.connector import MySQLConnector
from django_onestep.connectors.mysql.queue import TableQueueSource
from django_onestep.core.declarative.registry import ResourceContext, register_resource_type

__all__ = ["register"]

_QUEUE_FIELDS = frozenset({
    "connector", "table", "key", "where", "where_params", "claim", "ack", "nack", "fail", "batch_size",
    "lease_s", "attempts_column", "poll_interval_s",
})  # fmt: skip


def _connector(ctx: ResourceContext, spec: dict[str, Any]) -> MySQLConnector:
    kwargs: dict[str, Any] = {}
    if "max_threads" in spec:
        kwargs["max_threads"] = ctx.integer("max_threads", minimum=2)
    return MySQLConnector(ctx.optional_string("dsn"), using=ctx.optional_string("using"), **kwargs)


def _table_queue(ctx: ResourceContext, spec: dict[str, Any]) -> TableQueueSource:
    connector = ctx.reference("connector")
    if not isinstance(connector, MySQLConnector):
        raise ctx.error("connector", f"must name a 'mysql' resource, got {type(connector).__name__}")
    kwargs = {key: spec[key] for key in _QUEUE_FIELDS - {"connector"} if key in spec}
    for key in {"table", "key", "attempts_column"} & kwargs.keys():
        kwargs[key] = ctx.text(key)  # a ``${VAR}`` of digits stays a string (and is refused as a name)
    if isinstance(kwargs.get("where"), str):
        kwargs["where"] = ctx.text("where")
    return connector.table_queue(**kwargs)


def register() -> None:
    register_resource_type("mysql", _connector, fields=frozenset({"dsn", "using", "max_threads"}))
    register_resource_type("mysql_table_queue", _table_queue, fields=_QUEUE_FIELDS)
