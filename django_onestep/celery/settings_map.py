"""Celery's settings mapped onto ``ONESTEP``: what ``manage.py onestep_celery_settings`` prints.

A project's Celery settings come as ``CELERY_*`` names (``config_from_object(...,
namespace="CELERY")``), old-style names (``CELERY_ALWAYS_EAGER``, ``CELERYD_CONCURRENCY``,
``BROKER_URL``) or a ``CELERY = {...}`` dict of lowercase names. Each lands in one of three
buckets: an ``ONESTEP`` key, "not needed" (with why), or "not mapped" (with what to do).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django_onestep.conf import OneStepSettings
from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import is_int

__all__ = ["CelerySettingsMap", "celery_settings", "map_celery_settings", "render"]

# Celery 3 names, as Django projects still spell them, and the Celery 4+ name each became
_OLD_NAMES = {
    "always_eager": "task_always_eager",
    "eager_propagates_exceptions": "task_eager_propagates",
    "acks_late": "task_acks_late",
    "default_queue": "task_default_queue",
    "default_rate_limit": "task_default_rate_limit",
    "ignore_result": "task_ignore_result",
    "routes": "task_routes",
    "annotations": "task_annotations",
    "track_started": "task_track_started",
    "task_result_expires": "result_expires",
    "celeryd_concurrency": "worker_concurrency",
    "celeryd_prefetch_multiplier": "worker_prefetch_multiplier",
    "celeryd_max_tasks_per_child": "worker_max_tasks_per_child",
    "celeryd_task_time_limit": "task_time_limit",
    "celeryd_task_soft_time_limit": "task_soft_time_limit",
    "celerybeat_schedule": "beat_schedule",
    "celerybeat_scheduler": "beat_scheduler",
}

_NO_BROKER = "tasks run on the database queue in ONESTEP['DATABASE']: there is no broker"
_NO_BACKEND = "a job's result is stored on its own row and read with AsyncResult(id)"
_JSON = "arguments and results always travel as JSON"
_ALWAYS = (
    "always true here: a job is acknowledged after its handler finishes, and a dead worker's job comes back"
)

NOT_NEEDED = {
    "broker_url": _NO_BROKER,
    "broker_transport_options": _NO_BROKER,
    "broker_connection_retry": _NO_BROKER,
    "broker_connection_retry_on_startup": _NO_BROKER,
    "broker_connection_max_retries": _NO_BROKER,
    "broker_pool_limit": _NO_BROKER,
    "broker_heartbeat": _NO_BROKER,
    "broker_use_ssl": _NO_BROKER,
    "result_backend": _NO_BACKEND,
    "result_backend_transport_options": _NO_BACKEND,
    "result_extended": "the job row keeps its task, arguments, attempts and times",
    "cache_backend": _NO_BACKEND,
    "task_serializer": _JSON,
    "result_serializer": _JSON,
    "accept_content": _JSON,
    "result_accept_content": _JSON,
    "task_always_eager": "in tests, wrap the code in django_onestep.testing.eager() instead",
    "task_eager_propagates": "django_onestep.testing.eager() always raises the task's exception",
    "task_store_eager_result": "django_onestep.testing.eager() returns the result to the caller",
    "timezone": "schedules carry their own timezone; onestep_import_beat reads this setting, keep it until you ran it",
    "enable_utc": "job times are stored in UTC",
    "task_acks_late": _ALWAYS,
    "task_reject_on_worker_lost": _ALWAYS,
    "task_acks_on_failure_or_timeout": "a failed job is retried by its policy or dead-lettered, never dropped",
    "task_track_started": "a job's status is 'running' while its handler runs",
    "task_ignore_result": "a result is one column of the job row",
    "task_default_queue": "each task has its own database queue; onestep_worker --tasks picks which a worker runs",
    "task_create_missing_queues": "each task has its own database queue",
    "worker_prefetch_multiplier": "a worker claims only as many jobs as it has free slots (at most BATCH_SIZE per query)",
    "worker_send_task_events": "task events are logged and counted in the admin without a switch",
    "task_send_sent_event": "task events are logged and counted in the admin without a switch",
    "worker_hijack_root_logger": "onestep_worker configures only its own loggers",
    "worker_redirect_stdouts": "onestep_worker configures only its own loggers",
    "worker_cancel_long_running_tasks_on_connection_loss": _NO_BROKER,
    "worker_pool": "sync handlers run in threads; time_limit= tasks in a pool of child processes",
}

NOT_MAPPED = {
    "worker_concurrency": "run `manage.py onestep_worker --concurrency {value}` (handlers at once per task)",
    "task_time_limit": "pass time_limit={value} to the tasks that need it (they then run in a child process)",
    "task_soft_time_limit": "pass soft_time_limit={value} to the tasks that need it",
    "task_default_retry_delay": "pass default_retry_delay={value} to the tasks that retry",
    "task_default_rate_limit": "pass rate_limit={value!r} to the tasks that need it (global across workers)",
    "task_routes": "pass queue= on each task and choose a worker's tasks with onestep_worker --tasks",
    "task_annotations": "pass the options to each task's decorator",
    "task_default_priority": "pass priority= to the task's decorator",
    "beat_schedule": "run `manage.py onestep_import_beat` to make each entry a schedule (editable in the admin), then delete this setting",
    "beat_scheduler": "run `manage.py onestep_import_beat --from tables` to import django-celery-beat's entries",
    "imports": "move the tasks into an installed app's tasks.py, or add the module's last name to ONESTEP['TASK_MODULES']",
    "include": "move the tasks into an installed app's tasks.py, or add the module's last name to ONESTEP['TASK_MODULES']",
    "worker_log_format": "onestep_worker writes its own lines; ONESTEP['LOG_FORMAT'] picks 'text' or 'json'",
    "worker_task_log_format": "onestep_worker writes its own lines; ONESTEP['LOG_FORMAT'] picks 'text' or 'json'",
}


@dataclass
class CelerySettingsMap:
    """The ``ONESTEP`` entries (each with the Celery setting it came from) and the rest."""

    onestep: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # ONESTEP key -> Celery setting
    not_needed: list[tuple[str, str]] = field(default_factory=list)
    not_mapped: list[tuple[str, str]] = field(default_factory=list)
    also: list[tuple[str, str]] = field(default_factory=list)  # a mapped setting's second half


def _seconds(setting: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise ConfigurationError(
        f"{setting}: must be a number of seconds > 0, a timedelta or None, got {value!r}"
    )


def _count(setting: str, value: Any) -> int:
    if not is_int(value) or value < 1:
        raise ConfigurationError(f"{setting}: must be an integer >= 1, got {value!r}")
    return int(value)


def _result_expires(result: CelerySettingsMap, setting: str, value: Any) -> None:
    result.onestep["DONE_JOB_RETENTION_S"] = _seconds(setting, value)
    result.sources["DONE_JOB_RETENTION_S"] = setting


def _pool(
    key: str, convert: Callable[[str, Any], Any], worker_option: str
) -> Callable[[CelerySettingsMap, str, Any], None]:
    # Celery's children run every task; here only time_limit= tasks run in pool children,
    # and the worker process recycles itself by its own option
    def apply(result: CelerySettingsMap, setting: str, value: Any) -> None:
        result.onestep.setdefault("PROCESS_POOL", {})[key] = convert(setting, value)
        result.sources[f"PROCESS_POOL.{key}"] = setting
        result.also.append(
            (
                setting,
                f"run `manage.py onestep_worker {worker_option} {value}` to recycle the worker process too",
            )
        )

    return apply


def _kib_to_mib(setting: str, value: Any) -> int:
    # Celery counts this one in KiB; ONESTEP in MiB, rounded up so a limit never tightens
    return -(-_count(setting, value) // 1024)


MAPPED: dict[str, Callable[[CelerySettingsMap, str, Any], None]] = {
    "result_expires": _result_expires,
    "worker_max_tasks_per_child": _pool("MAX_TASKS_PER_CHILD", _count, "--max-tasks-per-child"),
    "worker_max_memory_per_child": _pool("MAX_MEMORY_PER_CHILD_MB", _kib_to_mib, "--max-memory-per-child"),
}


def _canonical(name: str) -> str:
    lowered = name.lower()
    return _OLD_NAMES.get(lowered, lowered)


def celery_settings(django_settings: Any) -> dict[str, Any]:
    """The Celery settings of a Django settings object, by setting name as written there."""
    found: dict[str, Any] = {}
    namespace = getattr(django_settings, "CELERY", None)
    if namespace is not None:
        if not isinstance(namespace, Mapping):
            raise ConfigurationError(
                f"CELERY: must be a dict of Celery settings, got {type(namespace).__name__}"
            )
        found.update({f"CELERY[{key!r}]": value for key, value in namespace.items()})
    for name in dir(django_settings):
        if name == "BROKER_URL" or (
            name.startswith(("CELERY_", "CELERYD_", "CELERYBEAT_")) and name.isupper()
        ):
            found[name] = getattr(django_settings, name)
    return found


def _celery_name(written: str) -> str:
    if written.startswith("CELERY["):
        return _canonical(written[len("CELERY['") : -2])
    if written.startswith("CELERY_"):
        return _canonical(written[len("CELERY_") :])
    return _canonical(written)


def map_celery_settings(found: Mapping[str, Any]) -> CelerySettingsMap:
    """Each setting into its bucket; a bad value raises naming the setting."""
    result = CelerySettingsMap()
    for written, value in sorted(found.items()):
        name = _celery_name(written)
        if name in MAPPED:
            MAPPED[name](result, written, value)
        elif name in NOT_NEEDED:
            result.not_needed.append((written, NOT_NEEDED[name]))
        elif name in NOT_MAPPED:
            result.not_mapped.append((written, NOT_MAPPED[name].format(value=value)))
        else:
            result.not_mapped.append(
                (written, "not a Celery setting this helper knows: see the settings map in the docs")
            )
    OneStepSettings(result.onestep)  # the printed block must be one the worker accepts
    return result


def render(result: CelerySettingsMap) -> str:
    """The block to paste: valid Python, every line that is not ``ONESTEP`` a comment."""
    lines = ["ONESTEP = {"]
    for key, value in result.onestep.items():
        if isinstance(value, dict):
            lines.append(f"    {key!r}: {{")
            for inner, inner_value in value.items():
                lines.append(
                    f"        {inner!r}: {inner_value!r},  # from {result.sources[f'{key}.{inner}']}"
                )
            lines.append("    },")
        else:
            lines.append(f"    {key!r}: {value!r},  # from {result.sources[key]}")
    lines.append("}")
    if not result.onestep:
        lines[:] = ["ONESTEP = {}"]
    if result.also:
        lines.append("# also (the PROCESS_POOL children run only time_limit= tasks):")
        lines.extend(f"#   {written}: {what}" for written, what in result.also)
    if result.not_needed:
        lines.append("# not needed (delete them):")
        lines.extend(f"#   {written}: {why}" for written, why in result.not_needed)
    if result.not_mapped:
        lines.append("# not mapped (do this instead, then delete them):")
        lines.extend(f"#   {written}: {what}" for written, what in result.not_mapped)
    return "\n".join(lines) + "\n"
