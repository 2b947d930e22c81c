"""Resolve the worker's TARGET: none (the project app), ``module:attr`` or a YAML file."""

from __future__ import annotations

from typing import Any

from django_onestep.worker.options import WorkerSetupError

__all__ = ["load_target"]


def load_target(target: str | None) -> Any:
    """Return the OneStepApp named by ``target``; bad targets raise WorkerSetupError.

    ``None`` is the project app (``from django_onestep import app``), whose tasks the
    app registry's autodiscovery has already imported. Anything else is resolved
    exactly as the standalone CLI does (``django_onestep.core.declarative.cli.load_target``):
    ``module:attr`` naming an app or a zero-argument factory, a bare ``module`` meaning
    ``module:app``, or a ``.yaml``/``.yml`` file loaded with ``load_yaml_app``.
    """
    if target is None:
        from django_onestep.project.project_app import get_project_app

        return get_project_app()
    from django_onestep.core.declarative.cli import load_target as resolve
    from django_onestep.core.errors import ConfigurationError

    if ":" not in target and not target.lower().endswith((".yaml", ".yml")):
        target = f"{target}:app"
    try:
        return resolve(target)
    except (ConfigurationError, ImportError) as exc:
        raise WorkerSetupError(f"cannot load {target!r}: {exc}") from exc
