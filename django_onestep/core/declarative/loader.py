"""Declarative apps: onestep's YAML schema, loaded into a OneStepApp.

Schema (onestep 1.x; ``apiVersion``/``kind`` accepted and ignored)::

    app: {name, shutdown_timeout_s, config, state, env_file, strict_env, logging}
    resources | connectors | sources | sinks: {<name>: {type: <type>, ...}}
    tasks:
      - name, description, source, emit, dead_letter, handler ({ref, params} or
        "module:attr"), hooks {before, after_success, on_failure}, concurrency,
        retry (no_retry | max_attempts | exponential_backoff | by_failure_kind, as
        ``retry_spec`` builds them),
        timeout_s, config, batch_size, batch_within_s (a batch handler)
    hooks: {startup, shutdown, events}
    reporter: true | {control-plane options}

Every error is a ConfigurationError (a ValueError) whose message starts with the
path of the offending key: ``tasks[2].retry.max_attempts: must be >= 1, got 0``.
:func:`load_app_config` takes an already-parsed mapping (Django settings use it).
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Sink, Source
from django_onestep.core.declarative.env import (
    copy_mapping,
    env_text,
    expand_env,
    load_dotenv,
    missing_env_refs,
)
from django_onestep.core.declarative.registry import build_resources
from django_onestep.core.declarative.retry_spec import build_retry_policy
from django_onestep.core.errors import ConfigurationError, MissingExtraError, invalid_value
from django_onestep.core.validation import optional_positive_number, positive_int

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["is_yaml_target", "load_app_config", "load_ref", "load_yaml_app"]

_TOP_LEVEL = frozenset(
    {"apiVersion", "kind", "app", "name", "shutdown_timeout_s", "config", "state"}
    | {"resources", "connectors", "sources", "sinks", "tasks", "hooks", "reporter"}
)
_APP_KEYS = frozenset({"name", "shutdown_timeout_s", "config", "state", "env_file", "strict_env", "logging"})
_TASK_KEYS = frozenset(
    {"name", "description", "source", "emit", "dead_letter", "handler", "hooks"}
    | {"concurrency", "retry", "timeout_s", "config", "batch_size", "batch_within_s"}
)


def is_yaml_target(target: str) -> bool:
    return target.lower().endswith((".yaml", ".yml"))


def _fail(path: str, message: str) -> ConfigurationError:
    return invalid_value(path, message)


def _check_keys(value: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be a mapping, got {type(value).__name__}")
    return copy_mapping(value)


def load_ref(ref: str) -> Any:
    """``package.module:attr.sub`` (or dotted ``package.module.attr``) -> the object."""
    module_name, colon, attr_path = ref.partition(":")
    if not colon:
        module_name, _, attr_path = ref.rpartition(".")
    if not module_name or not attr_path:
        raise ValueError(f"invalid ref {ref!r}; expected 'package.module:attr'")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r} for ref {ref!r}: {exc}") from None
    for part in attr_path.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ValueError(f"ref {ref!r}: {part!r} not found") from None
    return value


def _callable_ref(raw: Any, path: str) -> Callable[..., Any]:
    ref: Any
    params: dict[str, Any]
    if isinstance(raw, str):
        ref, params = raw, {}
    elif isinstance(raw, Mapping):
        _check_keys(raw, frozenset({"ref", "params"}), path)
        ref = raw.get("ref")
        params = _mapping(raw.get("params"), f"{path}.params")
        if not isinstance(ref, str):
            raise _fail(f"{path}.ref", f"must be a 'module:attr' string, got {ref!r}")
    else:
        raise _fail(path, f"must be a 'module:attr' string or a mapping with 'ref', got {raw!r}")
    try:
        func = load_ref(ref)
    except ValueError as exc:
        raise _fail(path, str(exc)) from None
    if not callable(func):
        raise _fail(path, f"ref {ref!r} is not callable")
    if not params:
        return func  # type: ignore[no-any-return]
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def bound_async(*args: Any) -> Any:
            return await func(*args, **copy.deepcopy(params))

        return bound_async

    # A plain function stays plain, so the runtime still runs it in the thread pool
    # (an async wrapper would run it on the event loop, where it blocks every task).
    @functools.wraps(func)
    def bound(*args: Any) -> Any:
        return func(*args, **copy.deepcopy(params))

    return bound


def _resource(resources: Mapping[str, Any], name: Any, path: str, role: type) -> Any:
    if not isinstance(name, str):
        raise _fail(path, f"must be a resource name, got {name!r}")
    if name not in resources:
        known = ", ".join(sorted(resources)) or "none defined"
        raise _fail(path, f"unknown resource {name!r} (resources: {known})")
    value = resources[name]
    if not isinstance(value, role):
        raise _fail(
            path, f"resource {name!r} ({type(value).__name__}) cannot be used as a {role.__name__.lower()}"
        )
    return value


def _sinks(resources: Mapping[str, Any], raw: Any, path: str) -> tuple[Sink, ...]:
    if raw is None:
        return ()
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list):
        raise _fail(path, f"must be a resource name or a list of names, got {raw!r}")
    names = [env_text(names, index) for index in range(len(names))]
    return tuple(_resource(resources, name, f"{path}[{i}]", Sink) for i, name in enumerate(names))


def _hooks(raw: Any, allowed: frozenset[str], path: str) -> dict[str, tuple[Callable[..., Any], ...]]:
    spec = _mapping(raw, path)
    _check_keys(spec, allowed, path)
    result: dict[str, tuple[Callable[..., Any], ...]] = {}
    for key, value in spec.items():
        entries = value if isinstance(value, list) else [value]
        result[key] = tuple(_callable_ref(entry, f"{path}.{key}[{i}]") for i, entry in enumerate(entries))
    return result


def _passthrough(name: str) -> Callable[..., Any]:
    async def passthrough(ctx: Any, payload: Any) -> Any:
        return payload

    passthrough.__name__ = name
    return passthrough


def _add_task(app: OneStepApp, resources: Mapping[str, Any], raw: Any, index: int) -> None:
    from django_onestep.core.runtime.task import TaskHooks

    path = f"tasks[{index}]"
    task = _mapping(raw, path)
    _check_keys(task, _TASK_KEYS, path)
    name = env_text(task, "name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise _fail(f"{path}.name", f"must be a non-empty string, got {name!r}")
    source_name = env_text(task, "source")
    source = None if source_name is None else _resource(resources, source_name, f"{path}.source", Source)
    emit = _sinks(resources, env_text(task, "emit"), f"{path}.emit")
    dead_letter = _sinks(resources, env_text(task, "dead_letter"), f"{path}.dead_letter")
    if "handler" in task:
        handler = _callable_ref(task["handler"], f"{path}.handler")
    elif emit:
        handler = _passthrough(name or f"task_{index}")
    else:
        raise _fail(path, "needs a 'handler' (or an 'emit' to forward payloads unchanged)")
    hooks = _hooks(task.get("hooks"), frozenset({"before", "after_success", "on_failure"}), f"{path}.hooks")
    concurrency = positive_int(f"{path}.concurrency", task.get("concurrency", 1))
    timeout_s = task.get("timeout_s")
    optional_positive_number(f"{path}.timeout_s", timeout_s)
    try:
        app.task(
            name=name or getattr(handler, "__name__", None),
            description=env_text(task, "description"),
            source=source,
            emit=emit or None,
            dead_letter=dead_letter or None,
            concurrency=concurrency,
            retry=build_retry_policy(task.get("retry"), f"{path}.retry"),
            timeout_s=timeout_s,
            config=_mapping(task.get("config"), f"{path}.config"),
            hooks=TaskHooks(**hooks),
            batch_size=task.get("batch_size"),
            batch_within_s=task.get("batch_within_s"),
        )(handler)
    except ConfigurationError as exc:
        if str(exc).startswith(path):
            raise
        raise _fail(path, str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise _fail(path, str(exc)) from None


def _app_section(config: Mapping[str, Any]) -> dict[str, Any]:
    if "app" in config:
        section = _mapping(config["app"], "app")
        _check_keys(section, _APP_KEYS, "app")
        return section
    return copy_mapping(config, keys=("name", "shutdown_timeout_s", "config", "state"))


def load_app_config(
    config: Mapping[str, Any], *, source_path: str | None = None, strict: bool = True
) -> OneStepApp:
    """Build an app from an already-parsed (and env-expanded) mapping.

    ``strict`` is accepted for onestep compatibility; validation is always strict here
    (unknown keys and bad values are errors naming their path).
    """
    from django_onestep.core.runtime.app import OneStepApp

    if not isinstance(config, Mapping):
        raise ConfigurationError(f"<root>: must be a mapping, got {type(config).__name__}")
    _check_keys(config, _TOP_LEVEL, "<root>")
    section = _app_section(config)
    prefix = "app." if "app" in config else ""
    name = env_text(section, "name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(f"{prefix}name", f"must be a non-empty string, got {name!r}")
    timeout = section.get("shutdown_timeout_s", 30.0)
    app_config = _mapping(section.get("config"), f"{prefix}config")  # its own path on error
    try:
        app = OneStepApp(name, config=app_config, shutdown_timeout_s=timeout)
    except ConfigurationError as exc:
        if exc.name is None or exc.problem is None:
            raise
        raise _fail(f"{prefix}{exc.name}", exc.problem) from None
    if source_path is not None:
        app.config.setdefault("config_path", source_path)
    logging_spec = _mapping(section.get("logging"), f"{prefix}logging")
    _check_keys(logging_spec, frozenset({"level"}), f"{prefix}logging")
    if logging_spec.get("level"):
        level = logging.getLevelName(str(logging_spec["level"]).upper())
        if not isinstance(level, int):
            raise _fail(f"{prefix}logging.level", f"unknown level {logging_spec['level']!r}")
        logging.getLogger("onestep").setLevel(level)
    resources = build_resources(config)
    if section.get("state") is not None:
        state = _resource(resources, env_text(section, "state"), f"{prefix}state", object)
        if not all(callable(getattr(state, attr, None)) for attr in ("load", "save", "delete")):
            raise _fail(
                f"{prefix}state", f"resource {section['state']!r} is not a state store (load/save/delete)"
            )
        app.state = state
    tasks = config.get("tasks", [])
    if not isinstance(tasks, list):
        raise _fail("tasks", f"must be a list, got {type(tasks).__name__}")
    for index, task in enumerate(tasks):
        _add_task(app, resources, task, index)
    app_hooks = _hooks(config.get("hooks"), frozenset({"startup", "shutdown", "events"}), "hooks")
    for key, register in (
        ("startup", app.on_startup),
        ("shutdown", app.on_shutdown),
        ("events", app.on_event),
    ):
        for func in app_hooks.get(key, ()):
            register(func)
    _attach_reporter(app, config.get("reporter"))
    return app


def _attach_reporter(app: OneStepApp, raw: Any) -> None:
    if raw is None or raw is False:
        return
    from django_onestep.core.declarative.reporter import ControlPlaneReporter, ControlPlaneReporterConfig

    options = {} if raw is True else _mapping(raw, "reporter")
    try:
        config = ControlPlaneReporterConfig.from_env(app_name=app.name, **options)
    except (TypeError, ValueError) as exc:
        raise _fail("reporter", str(exc)) from None
    ControlPlaneReporter(config).attach(app)


def _import_yaml() -> Any:
    try:
        return importlib.import_module("yaml")
    except ImportError:
        raise MissingExtraError("yaml", "yaml") from None


def load_yaml_app(
    path: str | os.PathLike[str],
    *,
    strict: bool = True,
    env: Mapping[str, str] | None = None,
    env_file: str | None = None,
    strict_env: bool | None = None,
) -> OneStepApp:
    """Load a YAML app definition (needs ``pip install 'django-onestep[yaml]'``).

    ``strict`` is accepted as in onestep; the definition is always validated strictly.
    """
    yaml = _import_yaml()
    resolved = os.path.abspath(os.fspath(path))
    try:
        with open(resolved, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{os.fspath(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(loaded, Mapping):
        raise ConfigurationError(f"<root>: the YAML file must contain a mapping, got {type(loaded).__name__}")
    app_raw: Mapping[str, Any] = loaded["app"] if isinstance(loaded.get("app"), Mapping) else {}
    dotenv = env_file or app_raw.get("env_file")
    if dotenv is not None:
        if not isinstance(dotenv, str):
            raise _fail("app.env_file", f"must be a path string, got {dotenv!r}")
        load_dotenv(dotenv if os.path.isabs(dotenv) else os.path.join(os.path.dirname(resolved), dotenv))
    elif os.path.isfile(os.path.join(os.path.dirname(resolved), ".env")):
        load_dotenv(os.path.join(os.path.dirname(resolved), ".env"))
    env_must_resolve = strict_env if strict_env is not None else app_raw.get("strict_env", False)
    if env_must_resolve:
        missing = missing_env_refs(loaded, env)
        if missing:
            raise ConfigurationError(f"strict_env: missing environment variable(s): {'; '.join(missing)}")
    return load_app_config(expand_env(loaded, env), source_path=resolved)
