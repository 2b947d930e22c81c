"""What a test needs from its surroundings: skip on a laptop without it, fail in CI.

CI (``CI`` set) installs every extra and starts every server, so a missing one there
is a broken build, never a reason to skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _missing(message: str, *, module_level: bool = False) -> None:
    if IN_CI:
        pytest.fail(f"CI requires this: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=module_level)


def require_server(env_var: str) -> str:
    """Return the server URL from ``env_var``, or skip (fail in CI) when it is unset."""
    value = os.environ.get(env_var)
    if not value:
        _missing(f"{env_var} is not set: start the servers with `make services` (or run `make test`)")
    return value  # type: ignore[return-value]  # _missing raised


def require_program(path: str, *, package: str) -> str:
    """Return ``path`` if it is an executable, or skip (fail in CI) naming the Debian package."""
    if not os.access(path, os.X_OK):
        _missing(f"{path} is missing: apt-get install {package} (or run `make system-deps`)")
    return path


def require_module(name: str, *, extras: str = "all,dev") -> ModuleType:
    """Import an optional client library at a test module's top, or skip (fail in CI)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        _missing(f"{name} is not installed: pip install -e '.[{extras}]'", module_level=True)
        raise  # unreachable: _missing raised
