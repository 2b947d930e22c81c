"""System checks (``manage.py check``) for django-onestep misconfiguration.

Ids are stable (docs/django.md lists them):

- ``django_onestep.E001`` an ``ONESTEP`` setting is invalid (names the key)
- ``django_onestep.E002`` a tasks module failed to register its tasks (e.g. a duplicate name),
  seen by autodiscovery or while Django's URL checks import the URLconf (a view importing
  that tasks module: see ``django_onestep.checks.urlconf_guard``)
- ``django_onestep.E003`` two tasks share a name
- ``django_onestep.E004`` ``ONESTEP["CONNECTORS"]`` names an unknown connector type
- ``django_onestep.E005`` a connector needs an extra that is not installed
- ``django_onestep.E006`` a cron expression is invalid
- ``django_onestep.E007`` django-onestep's tables are missing (run ``migrate``): reported
  by ``onestep_check`` and the worker, not by ``manage.py check`` (``migrate`` itself runs
  database checks, and must not fail because migrations are not applied yet)
- ``django_onestep.E008`` several worker processes on SQLite (``onestep_worker --processes``)
- ``django_onestep.E009``/``E010`` webhook routes (``django_onestep.webhooks.route_checks``)
- ``django_onestep.W001`` SQLite without ``"transaction_mode": "IMMEDIATE"``
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

__all__ = ["CONNECTOR_EXTRAS", "KNOWN_CONNECTOR_TYPES", "record_discovery_error", "register_all"]

# connector type -> (client module, pip extra); None = no extra needed
CONNECTOR_EXTRAS: dict[str, tuple[str, str] | None] = {
    "memory": None,
    "interval": None,
    "cron": None,
    "webhook": None,
    "http_sink": None,
    "database_queue": None,
    "django_state_store": None,
    "django_cursor_store": None,
    "redis": ("redis", "redis"),
    "redis_stream": ("redis", "redis"),
    "rabbitmq": ("pika", "rabbitmq"),
    "rabbitmq_queue": ("pika", "rabbitmq"),
    "sqs": ("boto3", "sqs"),
    "sqs_queue": ("boto3", "sqs"),
    "mysql": ("MySQLdb", "mysql"),
    "mysql_state_store": ("MySQLdb", "mysql"),
    "mysql_cursor_store": ("MySQLdb", "mysql"),
    "mysql_table_queue": ("MySQLdb", "mysql"),
    "mysql_incremental": ("MySQLdb", "mysql"),
    "mysql_table_sink": ("MySQLdb", "mysql"),
}
KNOWN_CONNECTOR_TYPES = frozenset(CONNECTOR_EXTRAS)

_discovery_errors: list[tuple[str, str]] = []
SETTINGS_TASKS = 'ONESTEP["TASKS"]'  # the "module" of tasks declared in the settings
_MODULE_HINT = "Fix that task definition as the message says."  # the core's errors carry their own fix
_SETTINGS_TASKS_HINT = 'Fix the definition at the path named, in ONESTEP["TASKS"] or ONESTEP["CONNECTORS"].'


def register_all() -> None:
    """Nothing to do: importing this module registers the checks (called for clarity)."""


def discovery_errors() -> list[CheckMessage]:
    """E002 for every tasks module whose registration failed during autodiscovery."""
    return [
        Error(
            f"tasks in {module} could not be registered: {message}",
            hint=_SETTINGS_TASKS_HINT if module == SETTINGS_TASKS else _MODULE_HINT,
            id="django_onestep.E002",
        )
        for module, message in _discovery_errors
    ]


def record_discovery_error(module: str, error: BaseException) -> None:
    """Remember a task registration error raised while autodiscovering ``module``."""
    where = code_location(error, module)
    suffix = f" ({where})" if where else ""
    _discovery_errors.append((module, f"{type(error).__name__}: {error}{suffix}"))


def discovery_error_modules() -> set[str]:
    """The modules whose registration errors are already reported as E002."""
    return {module for module, _ in _discovery_errors}


def code_location(error: BaseException, module: str | None = None) -> str | None:
    """``path/to/tasks.py:12``: the line of ``module`` (else of the user's code) that raised.

    Without ``module``, the deepest frame outside Django, django-onestep and the import
    machinery is the user's line. The path is relative to the working directory when
    under it, as the user typed it.
    """
    import os

    found = None
    tb = error.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        ours = name == module if module is not None else not _is_library_module(name)
        if ours:
            found = tb
        tb = tb.tb_next
    if found is None:
        return None
    path = found.tb_frame.f_code.co_filename
    relative = os.path.relpath(path)
    return f"{path if relative.startswith('..') else relative}:{found.tb_lineno}"


def _is_library_module(name: str) -> bool:
    return name.split(".")[0] in ("django", "django_onestep", "importlib", "_frozen_importlib")


def _settings_or_error() -> tuple[Any, list[CheckMessage]]:
    from django_onestep.conf import OneStepSettingsError, get_settings

    try:
        return get_settings(), []
    except OneStepSettingsError as exc:
        return None, [
            Error(
                str(exc), hint="Fix this key in the ONESTEP dict of your settings.", id="django_onestep.E001"
            )
        ]


@register("django_onestep")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf, errors = _settings_or_error()
    return errors or state_import_errors(conf.STATE)


def state_import_errors(state: Any) -> list[CheckMessage]:
    """E001 when ``ONESTEP["STATE"]`` is a dotted path that does not import.

    Checked here rather than when the settings are read: importing the user's module
    while the settings lock is held could deadlock if it reads the settings itself.
    """
    if not isinstance(state, str) or state in ("database", "memory"):
        return []
    from django.utils.module_loading import import_string

    try:
        import_string(state)
    except ImportError as exc:
        return [
            Error(
                f'ONESTEP["STATE"]: cannot import {state!r}: {exc}',
                hint="Name a store class or factory as 'package.module.Name', or use 'database'.",
                id="django_onestep.E001",
            )
        ]
    return []


@register("django_onestep")
def check_task_registration(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors = discovery_errors()
    from django_onestep.project import project_app as project

    app = project.created_project_app()
    if app is not None:  # never create the app (or import the runtime) just to check it
        errors.extend(check_duplicate_task_names(app))
    return errors


def check_duplicate_task_names(app: Any) -> list[CheckMessage]:
    seen: set[str] = set()
    errors: list[CheckMessage] = []
    for spec in getattr(app, "tasks", ()):
        if spec.name in seen:
            errors.append(
                Error(
                    f"task name {spec.name!r} is used twice in app {app.name!r}",
                    hint="Pass a unique name=... to @app.task.",
                    id="django_onestep.E003",
                )
            )
        seen.add(spec.name)
    return errors


@register("django_onestep")
def check_connectors(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf, settings_errors = _settings_or_error()
    if settings_errors:
        return []
    return list(_connector_messages(conf.CONNECTORS))


def _known_types() -> frozenset[str]:
    """Our list plus whatever the YAML registry knows (connectors register their types)."""
    from django_onestep.core.declarative.registry import known_resource_types

    return KNOWN_CONNECTOR_TYPES | frozenset(known_resource_types())


def _connector_messages(connectors: Mapping[str, Any]) -> Iterable[CheckMessage]:
    known = _known_types()
    for name, definition in connectors.items():
        key = f'ONESTEP["CONNECTORS"]["{name}"]'
        if not isinstance(definition, Mapping):
            yield Error(f"{key}: must be a dict with a 'type', got {definition!r}", id="django_onestep.E004")
            continue
        kind = definition.get("type")
        if kind not in known:
            yield Error(
                f"{key}: unknown connector type {kind!r}",
                hint=f"Known types: {', '.join(sorted(known))}.",
                id="django_onestep.E004",
            )
            continue
        extra = CONNECTOR_EXTRAS.get(kind)
        if extra is not None and importlib.util.find_spec(extra[0]) is None:
            yield Error(
                f"{key}: type {kind!r} needs the {extra[0]!r} package, which is not installed",
                hint=f"pip install 'django-onestep[{extra[1]}]'",
                id="django_onestep.E005",
            )
        if kind == "cron":
            field = "expr" if "expr" in definition else "expression"  # onestep's YAML: expression
            problem = cron_problem(definition.get(field))
            if problem:
                yield Error(f'{key}["{field}"]: {problem}', id="django_onestep.E006")


def cron_problem(expr: Any) -> str | None:
    """Why ``expr`` is not a valid cron expression, or None when it is.

    The runtime's own parser decides, so the check and ``CronSource`` agree word for word.
    """
    from django_onestep.core.schedules.cron_engine import cron_problem as engine_cron_problem

    return engine_cron_problem(expr)


@register("django_onestep")
def check_sqlite_options(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    conf, settings_errors = _settings_or_error()
    if settings_errors:
        return []
    from django.conf import settings

    db = settings.DATABASES.get(conf.DATABASE, {})
    if db.get("ENGINE") != "django.db.backends.sqlite3":
        return []
    if (db.get("OPTIONS") or {}).get("transaction_mode") == "IMMEDIATE":
        return []
    return [
        Warning(
            f'database {conf.DATABASE!r} is SQLite without "transaction_mode": "IMMEDIATE": '
            'workers and web requests will fail with "database is locked"',
            hint=(
                f'Set DATABASES["{conf.DATABASE}"]["OPTIONS"] = {{"transaction_mode": "IMMEDIATE", '
                '"init_command": "PRAGMA journal_mode=WAL;"}'
            ),
            id="django_onestep.W001",
        )
    ]


def tables_missing(alias: str) -> list[CheckMessage]:
    """E007 when a django_onestep table is absent from database ``alias``."""
    from django.apps import apps
    from django.db import DatabaseError, connections

    try:
        existing = set(connections[alias].introspection.table_names())
    except DatabaseError as exc:
        return [Error(f"database {alias!r} is not reachable: {exc}", id="django_onestep.E007")]
    models = apps.get_app_config("django_onestep").get_models()
    missing = sorted(m._meta.db_table for m in models if m._meta.db_table not in existing)
    if not missing:
        return []
    return [
        Error(
            f"django-onestep tables are missing in database {alias!r}: {', '.join(missing)}",
            hint=f"Run: python manage.py migrate django_onestep --database {alias}",
            id="django_onestep.E007",
        )
    ]


def check_processes(processes: int, alias: str) -> list[CheckMessage]:
    """Several worker processes on one SQLite file contend for its single write lock."""
    from django.db import connections

    if processes > 1 and connections[alias].vendor == "sqlite":
        return [
            Error(
                f"--processes {processes} with SQLite database {alias!r}: SQLite has one write "
                "lock, extra processes only contend for it",
                hint="Use --processes 1 (raise --concurrency instead) or MariaDB/MySQL/PostgreSQL.",
                id="django_onestep.E008",
            )
        ]
    return []
