"""Environment handling for declarative apps: ``${VAR:-default}`` and ``.env`` files.

Same rules as onestep 1.x: ``${VAR}`` (empty when unset), ``${VAR:-default}`` and
``${VAR:default}``; a value that is *only* one reference is decoded as a JSON
literal when it is one (``${PORT:-8080}`` becomes the integer 8080, ``${ON:-true}``
a boolean) while mixed strings stay strings.

Unlike onestep, a field that expects a string keeps the variable's text: the mappings
and lists :func:`expand_env` returns remember the text of each value it decoded, and
the string getters read it through :func:`env_text`. So ``queue: ${QUEUE}`` with
``QUEUE=123`` names the queue ``"123"``, and a password of digits stays a string,
while ``port: ${PORT}`` is still a number.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = [
    "EnvList",
    "EnvMapping",
    "copy_mapping",
    "env_text",
    "expand_env",
    "load_dotenv",
    "missing_env_refs",
]

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


class EnvMapping(dict[Any, Any]):
    """A dict of expanded values that remembers, in ``env_texts``, the text of each
    value decoded from a lone reference (``{"port": 8080}``, ``env_texts == {"port": "8080"}``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env_texts: dict[Any, str] = {}


class EnvList(list[Any]):
    """A list of expanded values; ``env_texts`` as in :class:`EnvMapping`, by index."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.env_texts: dict[int, str] = {}


def _expand_string(value: str, env: Mapping[str, str] | None) -> tuple[Any, str | None]:
    """The value, and the text it was decoded from if it is no longer a string (else None)."""
    expanded = _REFERENCE.sub(lambda m: _lookup(m.group(1), m.group(2), env), value)
    if _REFERENCE.fullmatch(value.strip()):
        decoded = _coerce(expanded)
        return decoded, None if isinstance(decoded, str) else expanded
    return expanded, None


def expand_env(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """Expand references in every string of a nested structure (a new structure).

    Mappings and lists come back as :class:`EnvMapping` / :class:`EnvList`.
    """
    if isinstance(value, str):
        return _expand_string(value, env)[0]
    if isinstance(value, Mapping | list):
        container: EnvMapping | EnvList = EnvMapping() if isinstance(value, Mapping) else EnvList()
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, item in items:
            text = None
            if isinstance(item, str):
                item, text = _expand_string(item, env)
            else:
                item = expand_env(item, env)
            if isinstance(container, EnvMapping):
                container[key] = item
            else:
                container.append(item)
            if text is not None:
                container.env_texts[key] = text
        return container
    return value


def env_text(container: Any, key: Any, default: Any = None) -> Any:
    """``container[key]`` (``default`` when absent) for a field that expects a string:
    a value decoded from a lone ``${VAR}`` comes back as the variable's text."""
    texts = getattr(container, "env_texts", None)
    if texts and key in texts:
        return texts[key]
    if isinstance(container, Mapping):
        return container.get(key, default)
    return container[key]


def copy_mapping(value: Mapping[Any, Any], keys: Iterable[Any] | None = None) -> dict[Any, Any]:
    """A shallow copy (of ``keys`` only, if given) that keeps the texts :func:`env_text` reads."""
    wanted = value.keys() if keys is None else [key for key in keys if key in value]
    copied = EnvMapping((key, value[key]) for key in wanted)
    texts: Mapping[Any, str] = getattr(value, "env_texts", {})
    copied.env_texts.update((key, texts[key]) for key in copied if key in texts)
    return copied


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
