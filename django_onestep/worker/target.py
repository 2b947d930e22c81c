"""Resolve the worker's TARGET: none (the project app), ``module:attr`` or a YAML file."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from .options import WorkerSetupError

__all__ = ["load_target"]


def load_target(target: str | None) -> Any:
    """Return the OneStepApp named by ``target``; bad targets raise WorkerSetupError.

    ``None`` is the project app (``from django_onestep import app``), whose tasks the
    app registry's autodiscovery has already imported. ``module:attr`` may name an app
    or a zero-argument factory returning one; a bare ``module`` means ``module:app``.
    A path ending in ``.yaml``/``.yml`` is loaded with ``load_yaml_app``.
    """
    from ..core.app import OneStepApp

    if target is None:
        from ..project import get_project_app

        return get_project_app()
    if target.endswith((".yaml", ".yml")):
        app = _load_yaml(target)
    else:
        app = _load_object(target)
    if not isinstance(app, OneStepApp):
        raise WorkerSetupError(f"target {target!r} is a {type(app).__name__}, not a OneStepApp")
    return app


def _load_yaml(path: str) -> Any:
    if not Path(path).is_file():
        raise WorkerSetupError(f"target {path!r}: no such file")
    from ..core.errors import ConfigurationError
    from ..core.yaml_loader import load_yaml_app

    try:
        return load_yaml_app(path)
    except (ConfigurationError, ValueError, ImportError) as exc:
        raise WorkerSetupError(f"target {path!r}: {exc}") from exc


def _load_object(target: str) -> Any:
    from ..core.app import OneStepApp

    module_name, _, attr = target.partition(":")
    attr = attr or "app"
    if not module_name:
        raise WorkerSetupError(f"target {target!r}: expected module:attr, e.g. myproject.tasks:app")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise WorkerSetupError(f"target {target!r}: module {module_name!r} not found") from exc
        raise
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise WorkerSetupError(f"target {target!r}: {module_name!r} has no attribute {attr!r}") from exc
    if callable(obj) and not isinstance(obj, OneStepApp) and not isinstance(obj, type):
        obj = obj()
    return obj
