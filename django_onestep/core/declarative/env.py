"""Environment handling for declarative apps: ``${VAR:-default}`` and ``.env`` files.

Same rules as onestep 1.x: ``${VAR}`` (empty when unset), ``${VAR:-default}`` and
``${VAR:default}``; a value that is *only* one reference is decoded as a JSON
literal when it is one (``${PORT:-8080}`` becomes the integer 8080, ``${ON:-true}``
a boolean) while mixed strings stay strings.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["expand_env", "load_dotenv", "missing_env_refs"]

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-?([^}]*))?\}")
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def _lookup(name: str, default: str | None, env: Mapping[str, str] | None) -> str:
    if env is not None and name in env:
        return env[name]
    value = os.environ.get(name)
    if value is not None:
        return value
    return default if default is not None else ""


def _reject_constant(value: str) -> Any:
    raise ValueError(value)


def _coerce(text: str) -> Any:
    if text == "":
        return text
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return text
    return text if parsed is None else parsed


def expand_env(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """Expand references in every string of a nested structure (a new structure)."""
    if isinstance(value, str):
        expanded = _REFERENCE.sub(lambda m: _lookup(m.group(1), m.group(2), env), value)
        if _REFERENCE.fullmatch(value.strip()):
            return _coerce(expanded)
        return expanded
    if isinstance(value, Mapping):
        return {key: expand_env(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_env(item, env) for item in value]
    return value


def missing_env_refs(value: Any, env: Mapping[str, str] | None = None, path: str = "") -> list[str]:
    """``VAR (at tasks[0].url)`` for each reference without a value or a default."""
    found: list[str] = []
    if isinstance(value, str):
        for match in _REFERENCE.finditer(value):
            name, default = match.group(1), match.group(2)
            if default is None and not (env and name in env) and name not in os.environ:
                found.append(f"{name} (at {path or '<root>'})")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            found += missing_env_refs(item, env, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += missing_env_refs(item, env, f"{path}[{index}]")
    return found


def load_dotenv(path: str) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (``export``, quotes and ``#`` comments allowed).

    Variables already in the environment win; the others are set. Returns what was set.
    """
    loaded: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ConfigurationError(f"env_file {path!r} cannot be read: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            raise ConfigurationError(f"env_file {path!r} line {number}: expected KEY=VALUE")
        key, raw = match.groups()
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        else:
            raw = raw.split(" #", 1)[0].rstrip()
        if key not in os.environ:
            os.environ[key] = raw
            loaded[key] = raw
    return loaded
