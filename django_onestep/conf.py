"""The ``ONESTEP`` settings dict, read lazily and validated key by key.

``onestep_settings`` is read on first attribute access, validated as a whole, and
dropped again whenever Django sends ``setting_changed`` for ``ONESTEP`` (so
``override_settings(ONESTEP=...)`` takes effect in tests). Every key, its type and its
default are listed in ``DEFAULTS``; docs/settings.md documents them one by one.

A bad value raises :class:`OneStepSettingsError` (an ``ImproperlyConfigured``) naming the
key, e.g. ``ONESTEP["LEASE_S"]: must be > 0, got -1``.

``get_settings()`` is the one reader: the ORM stores, the queue, telemetry and the
project app call it rather than reading ``settings.ONESTEP`` (so a broken setting is
never papered over by a default of their own). In turn this module imports only Django
and the core, never a layer that reads it (a ``lint-imports`` contract).
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from django_onestep.core import validation
from django_onestep.core.declarative.retry_spec import build_retry_policy
from django_onestep.core.errors import ConfigurationError

__all__ = ["DEFAULTS", "OneStepSettings", "OneStepSettingsError", "get_settings", "onestep_settings"]


class OneStepSettingsError(ConfigurationError, ImproperlyConfigured):
    """An ``ONESTEP`` setting is invalid; ``key`` names it (dots for nested keys).

    An ``ImproperlyConfigured`` for Django, and a ``ConfigurationError`` (so a
    ``OneStepError``) like every other definition mistake the package reports.
    """

    def __init__(self, key: str, problem: str) -> None:
        path = "".join(f'["{part}"]' for part in key.split(".") if part)  # "" = ONESTEP itself
        super().__init__(f"ONESTEP{path}: {problem}")
        self.key = key
        self.name = f"ONESTEP{path}"
        self.problem = problem


# key -> default. Mutable defaults are copied on read.
DEFAULTS: dict[str, Any] = {
    "APP_NAME": "django_onestep",
    "CONFIG": {},
    "STATE": "database",
    "SHUTDOWN_TIMEOUT_S": 30.0,
    "TASK_MODULES": ["tasks"],
    "DEFAULT_RETRY": None,
    "DATABASE": "default",
    "CONNECTORS": {},
    "TASKS": [],
    "WEBHOOKS": {},
    "METRICS_FLUSH_INTERVAL_S": 5.0,
    "WORKER_HEARTBEAT_S": 5.0,
    "LEASE_S": 30.0,
    "POLL_INTERVAL_S": 0.01,
    "BATCH_SIZE": 100,
    "MAX_DELIVERIES": 5,
    "DONE_JOB_RETENTION_S": 7 * 24 * 3600.0,
    "METRICS_RETENTION_S": 14 * 24 * 3600.0,
    "LOG_FORMAT": "text",
    "LOG_SUCCESSES": "summary",
    "WORKER_HEARTBEAT_RETENTION_S": 24 * 3600.0,
    "HEALTH": {},
    "METRICS_TOKEN": None,
    "PROCESS_POOL": {},
    "OUTBOX": False,
    "OUTBOX_RELAY_IN_WORKER": True,
    "PUSH_ENABLED": False,
    "PUSH_CONCURRENCY": 16,
    "PUSH_ALLOWED_HOSTS": [],
    "PUSH_SECRETS": {},
    "PUSH_HOST_LIMITS": {},
    "PUSH_API_TOKEN": None,
    "CONTROL_PLANE": None,
}

# Thresholds of the health/ endpoint; None turns a check off.
HEALTH_DEFAULTS: dict[str, Any] = {
    "WORKER_STALE_S": 30.0,
    "QUEUE_LAG_S": 300.0,
    "DEAD_LETTERS_PER_HOUR": None,
}

# The child processes of executor="process" tasks; None: the default (CPU count, no recycling).
PROCESS_POOL_DEFAULTS: dict[str, Any] = {
    "SIZE": None,
    "MAX_TASKS_PER_CHILD": None,
    "MAX_MEMORY_PER_CHILD_MB": None,
}

WEBHOOK_DEFAULTS: dict[str, Any] = {
    "BASE_PATH": "onestep/webhooks/",
    "MAX_BODY_BYTES": 1024 * 1024,
    "KEEP_HEADERS": [],
}

_T = TypeVar("_T")


def unknown_key_problem(key: object, known: Iterable[str]) -> str:
    """``unknown setting; did you mean LEASE_S?``, or the known keys when none is close.

    A typo is the usual cause, and a list of nineteen keys hides the one meant.
    """
    names = sorted(known)
    close = difflib.get_close_matches(str(key).upper(), names, n=1, cutoff=0.6)
    if close:
        return f"unknown setting; did you mean {close[0]}?"
    return f"unknown setting (known keys: {', '.join(names)})"


def _checked(key: str, check: Callable[[str, Any], _T], value: Any) -> _T:
    """Run a core value check and report its failure under the ``ONESTEP`` key."""
    try:
        return check(key, value)
    except ConfigurationError as exc:
        raise OneStepSettingsError(key, exc.problem or str(exc)) from None


def _positive_number(key: str, value: Any) -> float:
    return _checked(key, validation.positive_number, value)


def _positive_int(key: str, value: Any) -> int:
    return _checked(key, validation.positive_int, value)


def _name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OneStepSettingsError(key, f"must be a non-empty string, got {value!r}")
    return value


def _mapping(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise OneStepSettingsError(key, f"must be a dict, got {type(value).__name__}")
    return dict(value)


def _module_names(key: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise OneStepSettingsError(key, f"must be a list of module names, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item.isidentifier():
            raise OneStepSettingsError(key, f"{item!r} is not a module name (e.g. 'tasks')")
    return list(value)


def _tasks(key: str, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise OneStepSettingsError(key, f"must be a list of task definitions, got {type(value).__name__}")
    return list(value)


def _state(key: str, value: Any) -> Any:
    # "database" (ORM store), "memory", a dotted path to a store class/factory, or an
    # object with async load/save/delete.
    if isinstance(value, str):
        if value in ("database", "memory") or "." in value:
            return value
        raise OneStepSettingsError(
            key, f"must be 'database', 'memory', a dotted path or a store object, got {value!r}"
        )
    if all(callable(getattr(value, name, None)) for name in ("load", "save", "delete")):
        return value
    raise OneStepSettingsError(key, f"must be 'database', 'memory', a dotted path or a store, got {value!r}")


def _default_retry(key: str, value: Any) -> Any:
    # Any form a YAML task's retry takes (None, a RetryPolicy, a type name, a dict),
    # built here so a bad option is reported under this key, not by a tasks.py.
    try:
        return build_retry_policy(value, key)
    except ConfigurationError as exc:
        raise OneStepSettingsError(exc.name or key, exc.problem or str(exc)) from None


def _database(key: str, value: Any) -> str:
    from django.conf import settings

    alias = _name(key, value)
    if alias not in settings.DATABASES:
        known = ", ".join(sorted(settings.DATABASES))
        raise OneStepSettingsError(key, f"unknown database alias {alias!r} (DATABASES has: {known})")
    return alias


def _webhooks(key: str, value: Any) -> dict[str, Any]:
    merged = {**WEBHOOK_DEFAULTS, **_mapping(key, value)}
    unknown = sorted(set(merged) - set(WEBHOOK_DEFAULTS))
    if unknown:
        raise OneStepSettingsError(f"{key}.{unknown[0]}", unknown_key_problem(unknown[0], WEBHOOK_DEFAULTS))
    _positive_int(f"{key}.MAX_BODY_BYTES", merged["MAX_BODY_BYTES"])
    if not isinstance(merged["BASE_PATH"], str):
        raise OneStepSettingsError(f"{key}.BASE_PATH", f"must be a string, got {merged['BASE_PATH']!r}")
    keep = merged["KEEP_HEADERS"]
    if (
        isinstance(keep, str)
        or not isinstance(keep, list | tuple)
        or not all(isinstance(h, str) for h in keep)
    ):
        raise OneStepSettingsError(f"{key}.KEEP_HEADERS", f"must be a list of header names, got {keep!r}")
    merged["KEEP_HEADERS"] = [name.strip().lower() for name in keep]
    return merged


def _health(key: str, value: Any) -> dict[str, Any]:
    merged = {**HEALTH_DEFAULTS, **_mapping(key, value)}
    unknown = sorted(set(merged) - set(HEALTH_DEFAULTS))
    if unknown:
        raise OneStepSettingsError(f"{key}.{unknown[0]}", unknown_key_problem(unknown[0], HEALTH_DEFAULTS))
    for name in HEALTH_DEFAULTS:
        merged[name] = _checked(f"{key}.{name}", validation.optional_positive_number, merged[name])
    return merged


def _process_pool(key: str, value: Any) -> dict[str, Any]:
    merged = {**PROCESS_POOL_DEFAULTS, **_mapping(key, value)}
    unknown = sorted(set(merged) - set(PROCESS_POOL_DEFAULTS))
    if unknown:
        raise OneStepSettingsError(
            f"{key}.{unknown[0]}", unknown_key_problem(unknown[0], PROCESS_POOL_DEFAULTS)
        )
    for name in ("SIZE", "MAX_TASKS_PER_CHILD"):
        merged[name] = _checked(f"{key}.{name}", validation.optional_positive_int, merged[name])
    name = "MAX_MEMORY_PER_CHILD_MB"
    merged[name] = _checked(f"{key}.{name}", validation.optional_positive_number, merged[name])
    return merged


def _optional_secret(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) < 16:
        raise OneStepSettingsError(key, "must be a string of at least 16 characters (or None to refuse all)")
    return value


def _log_format(key: str, value: Any) -> str:
    if value not in ("text", "json"):
        raise OneStepSettingsError(key, f"must be 'text' or 'json', got {value!r}")
    return str(value)


def _outbox(key: str, value: Any) -> bool | list[str]:
    # True/False for every broker queue, or the names of the queues that use it
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple) and all(isinstance(name, str) and name for name in value):
        return list(value)
    raise OneStepSettingsError(key, f"must be True, False or a list of queue names, got {value!r}")


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise OneStepSettingsError(key, f"must be True or False, got {value!r}")
    return value


def _success_lines(key: str, value: Any) -> bool | str:
    if isinstance(value, bool) or value == "summary":
        return value  # type: ignore[no-any-return]
    raise OneStepSettingsError(key, f'must be True, False or "summary", got {value!r}')


def _control_plane(key: str, value: Any) -> bool | dict[str, Any] | None:
    if value is None or isinstance(value, bool):
        return value
    return _mapping(key, value)


def _host_names(key: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise OneStepSettingsError(key, f"must be a list of host names or IP addresses, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise OneStepSettingsError(key, f"{item!r} is not a host name or IP address")
    return [item.strip().lower() for item in value]


_VALIDATORS: dict[str, Callable[[str, Any], Any]] = {
    "APP_NAME": _name,
    "CONFIG": _mapping,
    "STATE": _state,
    "SHUTDOWN_TIMEOUT_S": _positive_number,
    "TASK_MODULES": _module_names,
    "DEFAULT_RETRY": _default_retry,
    "DATABASE": _database,
    "CONNECTORS": _mapping,
    "TASKS": _tasks,
    "WEBHOOKS": _webhooks,
    "METRICS_FLUSH_INTERVAL_S": _positive_number,
    "WORKER_HEARTBEAT_S": _positive_number,
    "LEASE_S": _positive_number,
    "POLL_INTERVAL_S": _positive_number,
    "BATCH_SIZE": _positive_int,
    "MAX_DELIVERIES": _positive_int,
    "DONE_JOB_RETENTION_S": lambda k, v: _checked(k, validation.optional_positive_number, v),
    "METRICS_RETENTION_S": lambda k, v: _checked(k, validation.optional_positive_number, v),
    "LOG_FORMAT": _log_format,
    "LOG_SUCCESSES": _success_lines,
    "WORKER_HEARTBEAT_RETENTION_S": lambda k, v: _checked(k, validation.optional_positive_number, v),
    "HEALTH": _health,
    "METRICS_TOKEN": _optional_secret,
    "PROCESS_POOL": _process_pool,
    "OUTBOX": _outbox,
    "OUTBOX_RELAY_IN_WORKER": _flag,
    "PUSH_ENABLED": _flag,
    "PUSH_CONCURRENCY": _positive_int,
    "PUSH_ALLOWED_HOSTS": _host_names,
    "PUSH_SECRETS": _mapping,
    "PUSH_HOST_LIMITS": _mapping,
    "PUSH_API_TOKEN": _optional_secret,
    "CONTROL_PLANE": _control_plane,
}
assert set(_VALIDATORS) == set(DEFAULTS)


class OneStepSettings:
    """Validated view of ``settings.ONESTEP``: attributes named like the keys."""

    APP_NAME: str
    CONFIG: dict[str, Any]
    STATE: Any
    SHUTDOWN_TIMEOUT_S: float
    TASK_MODULES: list[str]
    DEFAULT_RETRY: Any
    DATABASE: str
    CONNECTORS: dict[str, Any]
    TASKS: list[Any]
    WEBHOOKS: dict[str, Any]
    METRICS_FLUSH_INTERVAL_S: float
    WORKER_HEARTBEAT_S: float
    LEASE_S: float
    POLL_INTERVAL_S: float
    BATCH_SIZE: int
    MAX_DELIVERIES: int
    DONE_JOB_RETENTION_S: float | None
    METRICS_RETENTION_S: float | None
    LOG_FORMAT: str
    LOG_SUCCESSES: bool | str
    WORKER_HEARTBEAT_RETENTION_S: float | None
    HEALTH: dict[str, Any]
    METRICS_TOKEN: str | None
    PROCESS_POOL: dict[str, Any]
    OUTBOX: bool | list[str]
    OUTBOX_RELAY_IN_WORKER: bool
    PUSH_ENABLED: bool
    PUSH_CONCURRENCY: int
    PUSH_ALLOWED_HOSTS: list[str]
    PUSH_SECRETS: dict[str, Any]
    PUSH_HOST_LIMITS: dict[str, Any]
    PUSH_API_TOKEN: str | None
    CONTROL_PLANE: bool | dict[str, Any] | None

    def __init__(self, raw: Any) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise OneStepSettingsError("", f"must be a dict, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(DEFAULTS), key=str)
        if unknown:
            raise OneStepSettingsError(str(unknown[0]), unknown_key_problem(unknown[0], DEFAULTS))
        self.user_keys = frozenset(raw)
        for key, default in DEFAULTS.items():
            value = raw[key] if key in raw else _copy(default)
            setattr(self, key, _VALIDATORS[key](key, value))

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in DEFAULTS}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


_lock = threading.Lock()
_cached: OneStepSettings | None = None


def get_settings() -> OneStepSettings:
    """Return the validated settings, reading ``settings.ONESTEP`` on first use."""
    global _cached
    current = _cached
    if current is not None:
        return current
    from django.conf import settings

    with _lock:
        if _cached is None:
            _cached = OneStepSettings(getattr(settings, "ONESTEP", None))
        return _cached


def reset_settings() -> None:
    global _cached
    with _lock:
        _cached = None


class _LazySettings:
    """Module-level proxy: ``onestep_settings.LEASE_S`` always reads the current value."""

    def __getattr__(self, name: str) -> Any:
        return getattr(get_settings(), name)

    def __repr__(self) -> str:
        return "<onestep_settings (lazy)>"


onestep_settings: Any = _LazySettings()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("ONESTEP", "DATABASES"):
        reset_settings()
