"""YAML resource types ``mysql``, ``mysql_table_queue``, ``mysql_incremental``,
``mysql_table_sink``, ``mysql_state_store`` and ``mysql_cursor_store`` (onestep's field names).

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
from django_onestep.connectors.mysql.incremental import IncrementalSource
from django_onestep.connectors.mysql.queue import TableQueueSource
from django_onestep.connectors.mysql.state_tables import MySQLCursorStore, MySQLStateStore
from django_onestep.connectors.mysql.table_sink import TableSink
from django_onestep.core.declarative.registry import ResourceContext, register_resource_type

__all__ = ["register"]

_QUEUE_FIELDS = frozenset({
    "connector", "table", "key", "where", "where_params", "claim", "ack", "nack", "fail", "batch_size",
    "lease_s", "attempts_column", "poll_interval_s",
})  # fmt: skip


_INCREMENTAL_FIELDS = frozenset({
    "connector", "table", "key", "cursor", "where", "where_params", "batch_size", "state", "state_key", "lag_s",
    "on_failure", "poll_interval_s",
})  # fmt: skip
_STORE_FIELDS = frozenset(
    {"connector", "table", "key_column", "value_column", "updated_at_column", "auto_create"}
)


def _connector(ctx: ResourceContext, spec: dict[str, Any]) -> MySQLConnector:
    kwargs: dict[str, Any] = {}
    if "max_threads" in spec:
        kwargs["max_threads"] = ctx.integer("max_threads", minimum=2)
    return MySQLConnector(ctx.optional_string("dsn"), using=ctx.optional_string("using"), **kwargs)


def _mysql(ctx: ResourceContext) -> MySQLConnector:
    connector = ctx.reference("connector")
    if not isinstance(connector, MySQLConnector):
        raise ctx.error("connector", f"must name a 'mysql' resource, got {type(connector).__name__}")
    return connector


def _table_queue(ctx: ResourceContext, spec: dict[str, Any]) -> TableQueueSource:
    connector = _mysql(ctx)
    kwargs = {key: spec[key] for key in _QUEUE_FIELDS - {"connector"} if key in spec}
    for key in {"table", "key", "attempts_column"} & kwargs.keys():
        kwargs[key] = ctx.text(key)  # a ``${VAR}`` of digits stays a string (and is refused as a name)
    if isinstance(kwargs.get("where"), str):
        kwargs["where"] = ctx.text("where")
    return connector.table_queue(**kwargs)


def _incremental(ctx: ResourceContext, spec: dict[str, Any]) -> IncrementalSource:
    connector = _mysql(ctx)
    kwargs = {key: spec[key] for key in _INCREMENTAL_FIELDS - {"connector", "state"} if key in spec}
    for key in {"table", "key", "state_key", "on_failure"} & kwargs.keys():
        kwargs[key] = ctx.text(key)
    if isinstance(kwargs.get("where"), str):
        kwargs["where"] = ctx.text("where")
    if "cursor" in spec:
        kwargs["cursor"] = ctx.string_list("cursor")
    if "state" in spec:
        kwargs["state"] = ctx.reference("state")
    return connector.incremental(**kwargs)


def _table_sink(ctx: ResourceContext, spec: dict[str, Any]) -> TableSink:
    connector = _mysql(ctx)
    return connector.table_sink(
        ctx.text("table"), mode=ctx.string("mode", "insert"), keys=ctx.string_list("keys")
    )


def _store(store_type: type[MySQLStateStore]) -> Any:
    def build(ctx: ResourceContext, spec: dict[str, Any]) -> MySQLStateStore:
        kwargs = {key: ctx.text(key) for key in _STORE_FIELDS - {"connector", "auto_create"} if key in spec}
        if "auto_create" in spec:
            kwargs["auto_create"] = ctx.boolean("auto_create", True)
        return store_type(_mysql(ctx), **kwargs)

    return build


def register() -> None:
    register_resource_type("mysql", _connector, fields=frozenset({"dsn", "using", "max_threads"}))
    register_resource_type("mysql_table_queue", _table_queue, fields=_QUEUE_FIELDS)
    register_resource_type("mysql_incremental", _incremental, fields=_INCREMENTAL_FIELDS)
    register_resource_type(
        "mysql_table_sink", _table_sink, fields=frozenset({"connector", "table", "mode", "keys"})
    )
    register_resource_type("mysql_state_store", _store(MySQLStateStore), fields=_STORE_FIELDS)
    register_resource_type("mysql_cursor_store", _store(MySQLCursorStore), fields=_STORE_FIELDS)
