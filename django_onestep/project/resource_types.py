"""YAML / declarative resource types of the Django layer.

Registered by ``OneStepConfig.ready()``, so a YAML TARGET given to ``onestep_worker``
or ``onestep_check`` can use them::

    resources:
      inbox: {type: database_queue, queue: emails, batch_size: 200}
      state: {type: django_state_store}
    app: {name: mailer, state: state}
"""

from __future__ import annotations

from typing import Any

from django_onestep.core.declarative.registry import ResourceContext, register_resource_type

__all__ = ["register"]


def _database_queue(ctx: ResourceContext, spec: dict[str, Any]) -> Any:
    from django_onestep.dbqueue.queue import DatabaseQueue

    options: dict[str, Any] = {
        "using": ctx.optional_string("using"),
        "batch_size": ctx.integer("batch_size", None, minimum=1),
        "lease_s": ctx.number("lease_s", None, minimum=0.001),
        "poll_interval_s": ctx.number("poll_interval_s", None, minimum=0.001),
    }
    if "max_deliveries" in spec:  # absent = ONESTEP["MAX_DELIVERIES"]; None would mean no limit
        options["max_deliveries"] = ctx.integer("max_deliveries", None, minimum=1)
    return DatabaseQueue(ctx.string("queue", ctx.resource_name()), **options)


def _state_store(ctx: ResourceContext, spec: dict[str, Any]) -> Any:
    from django_onestep.orm.stores import DatabaseStateStore

    return DatabaseStateStore(using=ctx.optional_string("using"), namespace=ctx.optional_string("namespace"))


def _cursor_store(ctx: ResourceContext, spec: dict[str, Any]) -> Any:
    from django_onestep.orm.stores import DatabaseCursorStore

    return DatabaseCursorStore(using=ctx.optional_string("using"), namespace=ctx.optional_string("namespace"))


def register() -> None:
    register_resource_type(
        "database_queue",
        _database_queue,
        fields=frozenset({"queue", "using", "batch_size", "lease_s", "poll_interval_s", "max_deliveries"}),
    )
    store_fields = frozenset({"using", "namespace"})
    register_resource_type("django_state_store", _state_store, fields=store_fields)
    register_resource_type("django_cursor_store", _cursor_store, fields=store_fields)
