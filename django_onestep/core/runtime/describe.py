"""``app.describe()``: a JSON-friendly summary of an app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["describe_app", "resource_summary"]


def resource_summary(resource: Any) -> dict[str, str] | None:
    """``{"name", "type"}`` of a source, sink or store (``describe()`` and ``check``)."""
    if resource is None:
        return None
    return {"name": str(getattr(resource, "name", type(resource).__name__)), "type": type(resource).__name__}


def describe_app(app: OneStepApp) -> dict[str, Any]:
    hub = app.runtime.hub
    return {
        "name": app.name,
        "shutdown_timeout_s": app.shutdown_timeout_s,
        "resources": [
            {"key": key, "name": str(getattr(resource, "name", key)), "type": type(resource).__name__}
            for key, resource in app.runtime.named_resources.items()
        ],
        "hooks": {
            "startup": len(hub.startup_hooks),
            "shutdown": len(hub.shutdown_hooks),
            "events": len(hub.event_handlers),
        },
        "tasks": [
            {
                "name": spec.name,
                "description": spec.description,
                "source": resource_summary(spec.source),
                "emit": [resource_summary(sink) for sink in spec.emit],
                "dead_letter": [resource_summary(sink) for sink in spec.dead_letter],
                "config": dict(spec.config),
                "hooks": {
                    "before": len(spec.hooks.before),
                    "after_success": len(spec.hooks.after_success),
                    "on_failure": len(spec.hooks.on_failure),
                },
                "concurrency": spec.concurrency,
                "timeout_s": spec.timeout_s,
                "retry": type(spec.retry).__name__,
                "handler_kind": "async" if spec.is_async else "sync",
            }
            for spec in app.runtime.tasks
        ],
    }
