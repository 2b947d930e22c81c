"""Resource types for declarative apps (YAML files, settings) and their registry.

A resource type is a name plus a builder ``builder(ctx, spec) -> object``. The
builder reads its fields through ``ctx`` so every error names the exact path
(``resources.tick.minutes: must be a number, got 'five'``). Connectors register
their own types: an installed package declares each type name as an entry point in the
``django_onestep.resource_types`` group, pointing at a ``register()`` function that calls
:func:`register_resource_type`. The entry point is loaded only when a definition uses
its type, so no client library loads otherwise, and the core names no connector.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from django_onestep.core.declarative.env import copy_mapping, env_text
from django_onestep.core.errors import ConfigurationError, MissingExtraError
from django_onestep.core.validation import is_int, is_number

__all__ = [
    "ResourceContext",
    "ResourceType",
    "build_resources",
    "known_resource_types",
    "register_resource_type",
]

Builder = Callable[["ResourceContext", dict[str, Any]], Any]


@dataclass(frozen=True)
class ResourceType:
    name: str
    builder: Builder
    fields: frozenset[str] | None  # None: the builder checks its own fields


_REGISTRY: dict[str, ResourceType] = {}
ENTRY_POINT_GROUP = "django_onestep.resource_types"
_SECTIONS = ("resources", "connectors", "sources", "sinks")


def register_resource_type(name: str, builder: Builder, *, fields: frozenset[str] | None = None) -> None:
    """Make ``type: <name>`` buildable. ``fields`` (without ``type``/``name``) are the
    allowed keys; an unknown key is then an error naming it."""
    _REGISTRY[name.strip().lower().replace("-", "_")] = ResourceType(name, builder, fields)


def known_resource_types() -> list[str]:
    return sorted(set(_REGISTRY) | set(_entry_points()))


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _lookup(type_name: str, path: str) -> ResourceType:
    entry_point = _entry_points().get(type_name)
    if type_name not in _REGISTRY and entry_point is not None:
        module = entry_point.value
        try:
            entry_point.load()()
        except MissingExtraError as exc:
            raise ConfigurationError(f"{path}.type: {type_name!r} needs an extra: {exc}") from None
        except ImportError as exc:
            raise ConfigurationError(
                f"{path}.type: {type_name!r} cannot be loaded ({module}): {exc}"
            ) from None
        if type_name not in _REGISTRY:
            raise ConfigurationError(
                f"{path}.type: {type_name!r} is not available yet ({module} registers no builder)"
            )
    found = _REGISTRY.get(type_name)
    if found is None:
        raise ConfigurationError(
            f"{path}.type: unknown resource type {type_name!r} (known: {', '.join(known_resource_types())})"
        )
    return found


class ResourceContext:
    """What a builder gets: its name, its path for errors, typed getters, references."""

    def __init__(
        self, name: str, path: str, spec: Mapping[str, Any], resolve: Callable[[str, str], Any]
    ) -> None:
        self.name = name
        self.path = path
        self.spec = spec
        self._resolve = resolve

    def error(self, key: str, message: str) -> ConfigurationError:
        return ConfigurationError(f"{self.path}.{key}: {message}")

    def resource_name(self) -> str:
        value = env_text(self.spec, "name", self.name)
        if not isinstance(value, str) or not value.strip():
            raise self.error("name", f"must be a non-empty string, got {value!r}")
        return value

    def reference(self, key: str) -> Any:
        """Another resource named by ``spec[key]`` (e.g. ``connector: rmq``)."""
        return self._resolve(self.string(key), f"{self.path}.{key}")

    def string(self, key: str, default: str | None = None) -> str:
        value = env_text(self.spec, key, default)  # ``${QUEUE}`` set to 123 stays "123"
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        return value

    def text(self, key: str) -> Any:
        """``spec[key]`` unchecked, for a string the builder passes on (``None`` when absent);
        a lone ``${VAR}`` keeps its text here too."""
        return env_text(self.spec, key)

    def optional_string(self, key: str) -> str | None:
        return None if self.spec.get(key) is None else self.string(key)

    def number(self, key: str, default: float | None = None, *, minimum: float | None = None) -> Any:
        value = self.spec.get(key, default)
        if value is None:
            return None
        if not is_number(value):
            raise self.error(key, f"must be a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value!r}")
        return value

    def integer(self, key: str, default: int | None = None, *, minimum: int | None = None) -> Any:
        value = self.spec.get(key, default)
        if value is None:
            return None
        if not is_int(value):
            raise self.error(key, f"must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, got {value!r}")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.spec.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def mapping(self, key: str) -> dict[str, Any] | None:
        value = self.spec.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be a mapping, got {type(value).__name__}")
        return dict(value)

    def string_list(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.spec.get(key, default)
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            raise self.error(key, f"must be a string or a list of strings, got {value!r}")
        return tuple(value)


def _collect_specs(config: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    specs: dict[str, tuple[str, dict[str, Any]]] = {}
    for section in _SECTIONS:
        raw = config.get(section)
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            raise ConfigurationError(
                f"{section}: must be a mapping of name -> resource, got {type(raw).__name__}"
            )
        for name, spec in raw.items():
            path = f"{section}.{name}"
            if not isinstance(spec, Mapping):
                raise ConfigurationError(
                    f"{path}: must be a mapping with a 'type', got {type(spec).__name__}"
                )
            if name in specs and specs[name][1] != dict(spec):
                raise ConfigurationError(
                    f"{path}: resource {name!r} is defined twice with different settings"
                )
            specs.setdefault(str(name), (path, copy_mapping(spec)))
    return specs


def build_resources(config: Mapping[str, Any]) -> dict[str, Any]:
    """Build every resource of ``config`` (references resolved, cycles rejected)."""
    specs = _collect_specs(config)
    built: dict[str, Any] = {}
    resolving: list[str] = []

    def resolve(name: str, wanted_at: str) -> Any:
        if name in built:
            return built[name]
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none defined"
            raise ConfigurationError(f"{wanted_at}: unknown resource {name!r} (resources: {known})")
        if name in resolving:
            raise ConfigurationError(f"{wanted_at}: resource cycle {' -> '.join([*resolving, name])}")
        path, spec = specs[name]
        raw_type = spec.get("type")
        if not isinstance(raw_type, str) or not raw_type.strip():
            problem = "is required" if raw_type in (None, "") else f"must be a type name, got {raw_type!r}"
            raise ConfigurationError(f"{path}.type: {problem} (known: {', '.join(known_resource_types())})")
        kind = _lookup(raw_type.strip().lower().replace("-", "_"), path)
        if kind.fields is not None:
            unknown = sorted(set(spec) - kind.fields - {"type", "name"})
            if unknown:
                allowed = ", ".join(sorted(kind.fields | {"type", "name"}))
                raise ConfigurationError(f"{path}: unknown key(s) {', '.join(unknown)} (allowed: {allowed})")
        resolving.append(name)
        try:
            built[name] = _build_one(kind, ResourceContext(name, path, spec, resolve), spec)
        finally:
            resolving.pop()
        return built[name]

    for name in specs:
        resolve(name, specs[name][0])
    return built


def _build_one(kind: ResourceType, ctx: ResourceContext, spec: dict[str, Any]) -> Any:
    try:
        return kind.builder(ctx, spec)
    except ConfigurationError as exc:
        message = str(exc)
        raise (
            exc if message.startswith(ctx.path) else ConfigurationError(f"{ctx.path}: {message}")
        ) from None
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{ctx.path}: {exc}") from None
