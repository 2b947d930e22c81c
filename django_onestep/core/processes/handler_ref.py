"""A handler named by import path, so a child process can import the same function."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["handler_path", "import_path"]


def handler_path(where: str, handler: Callable[..., Any]) -> str:
    """``"module:qualname"`` of ``handler``; refused when a child could not import it.

    The decorator returns the handler itself, so the module attribute is the function.
    """
    module = getattr(handler, "__module__", None)
    qualname = getattr(handler, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or module == "__main__":
        raise ConfigurationError(
            f"{where} executor='process': needs a handler defined at module level in an "
            f"importable module (a child process imports it by name), got {qualname or handler!r} "
            f"in {module!r}"
        )
    return f"{module}:{qualname}"


def import_path(path: str) -> Any:
    """The object at ``"module:qualname"``."""
    module_name, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target
