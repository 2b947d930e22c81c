"""Tasks declared in settings: ``ONESTEP["CONNECTORS"]`` + ``ONESTEP["TASKS"]``.

Same schema as onestep's YAML (and ``load_yaml_app``): connectors are resources by
name, tasks name their ``source``/``emit``/``dead_letter`` connectors and a
``handler: {ref: "module:function"}``. They are added to the project app after the
``tasks.py`` modules, at startup; an error names the path
(``ONESTEP["TASKS"]: tasks[1].retry.max_attempts: must be >= 1``) and becomes system
check ``django_onestep.E002``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_settings_tasks"]


def add_settings_tasks(app: Any, connectors: dict[str, Any], tasks: list[Any]) -> list[str]:
    """Build the declared tasks and register them on ``app``; return their names."""
    from django_onestep.core.declarative.loader import load_app_config

    if not tasks:
        return []
    built = load_app_config({"app": {"name": app.name}, "connectors": connectors, "tasks": tasks})
    names = []
    for raw, spec in zip(tasks, built.tasks, strict=True):
        options: dict[str, Any] = {
            "name": spec.name,
            "description": spec.description,
            "source": spec.source,
            "emit": spec.emit or None,
            "dead_letter": spec.dead_letter or None,
            "concurrency": spec.concurrency,
            "timeout_s": spec.timeout_s,
            "config": spec.config,
            "hooks": spec.hooks,
            "batch_size": spec.batch_size,
            "batch_within_s": spec.batch_within_s,
        }
        if isinstance(raw, dict) and raw.get("retry") is not None:
            options["retry"] = spec.retry  # else the project's DEFAULT_RETRY applies
        app.task(**options)(spec.handler)
        names.append(spec.name)
    return names
