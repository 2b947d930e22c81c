"""The options of ``@shared_task`` / ``@app.task`` in Celery's spelling, checked at import.

Every Celery option a Django project commonly uses maps to this runtime's own, and the
few that have no equivalent are refused by name with what to write instead: a task
never runs with an option silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.validation import (
    is_int,
    optional_non_negative_number,
    optional_positive_number,
    positive_int,
)
from django_onestep.dbqueue.rate_limit import RateLimit, parse_rate_limit

__all__ = ["CeleryTaskOptions", "parse_task_options"]

DEFAULT_QUEUE = "celery"

# accepted because they hold here anyway
_ALWAYS_TRUE = {
    "acks_late": "deliveries are always acknowledged after the handler finishes",
    "reject_on_worker_lost": "a killed worker's job always comes back through its lease",
    "track_started": "a job's status is 'running' while its handler runs",
}
_REFUSED = {
    "base": "there is no task base class; use hooks=TaskHooks(before=..., on_failure=...) on @app.task",
    "serializer": "arguments always travel as JSON",
    "autoretry_on": "did you mean autoretry_for=(...)?",
    "retry_kwargs": "pass max_retries= and default_retry_delay= to the decorator",
    "expires": "pass expires= to apply_async()",
    "routing_key": "name the queue with queue='...'",
    "exchange": "name the queue with queue='...'",
    "throws": "exceptions are logged with their traceback when a job fails for good",
    "trail": "workflows keep their steps in the database",
    "typing": "arguments are checked as JSON at the call",
    "store_errors_even_if_ignored": "a failure is always stored on the job",
    "resultrepr_maxsize": "results are stored whole (JSON)",
}
_KNOWN = (
    "name", "bind", "queue", "priority", "max_retries", "default_retry_delay", "autoretry_for",
    "dont_autoretry_for", "retry_backoff", "retry_backoff_max", "retry_jitter", "time_limit",
    "soft_time_limit", "ignore_result", "concurrency", "rate_limit", *_ALWAYS_TRUE,
)  # fmt: skip


@dataclass(frozen=True)
class CeleryTaskOptions:
    name: str | None
    bind: bool
    queue: str
    priority: int
    max_retries: int | None
    default_retry_delay_s: float
    autoretry_for: tuple[type[BaseException], ...]
    dont_autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: float  # 0: off; else the first delay in seconds (True means 1)
    retry_backoff_max_s: float
    retry_jitter: bool
    time_limit_s: float | None
    soft_time_limit_s: float | None
    ignore_result: bool
    concurrency: int
    rate_limit: RateLimit | None  # global: the task's queue's window in the database


def _exception_types(where: str, option: str, value: Any) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, (tuple, list)) else (value,)
    if not all(isinstance(item, type) and issubclass(item, BaseException) for item in items):
        raise ConfigurationError(f"{where} {option}: must be a tuple of exception classes, got {value!r}")
    return tuple(items)


def parse_task_options(where: str, options: Mapping[str, Any]) -> CeleryTaskOptions:
    """The options, checked; a refused or unknown one raises naming it and the fix."""
    for option in options:
        if option in _REFUSED:
            raise ConfigurationError(f"{where}: option {option!r} is not supported ({_REFUSED[option]})")
        if option not in _KNOWN:
            raise ConfigurationError(
                f"{where}: unknown option {option!r} (supported: {', '.join(sorted(_KNOWN))})"
            )
    name = options.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigurationError(f"{where} name: must be a non-empty string, got {name!r}")
    queue = options.get("queue", DEFAULT_QUEUE)
    if not isinstance(queue, str) or not 0 < len(queue) <= 100:
        raise ConfigurationError(f"{where} queue: must be a queue name of 1 to 100 characters, got {queue!r}")
    priority = options.get("priority", 0)
    if not is_int(priority):
        raise ConfigurationError(f"{where} priority: must be an integer, got {priority!r}")
    max_retries = options.get("max_retries", 3)
    if max_retries is not None and (not is_int(max_retries) or max_retries < 0):
        raise ConfigurationError(
            f"{where} max_retries: must be an integer >= 0 or None (for ever), got {max_retries!r}"
        )
    backoff = options.get("retry_backoff", False)
    if backoff is True:
        backoff = 1
    backoff_s = optional_non_negative_number(f"{where} retry_backoff", backoff or None) or 0.0
    time_limit_s = optional_positive_number(f"{where} time_limit", options.get("time_limit"))
    soft_s = optional_positive_number(f"{where} soft_time_limit", options.get("soft_time_limit"))
    concurrency = positive_int(f"{where} concurrency", options.get("concurrency", 1))
    return CeleryTaskOptions(
        name=name,
        bind=bool(options.get("bind", False)),
        queue=queue,
        priority=priority,
        max_retries=max_retries,
        default_retry_delay_s=optional_non_negative_number(
            f"{where} default_retry_delay", options.get("default_retry_delay", 180)
        )
        or 0.0,
        autoretry_for=_exception_types(where, "autoretry_for", options.get("autoretry_for", ())),
        dont_autoretry_for=_exception_types(
            where, "dont_autoretry_for", options.get("dont_autoretry_for", ())
        ),
        retry_backoff=backoff_s,
        retry_backoff_max_s=optional_positive_number(
            f"{where} retry_backoff_max", options.get("retry_backoff_max", 600)
        )
        or 600.0,
        retry_jitter=bool(options.get("retry_jitter", True)),
        time_limit_s=time_limit_s,
        soft_time_limit_s=soft_s,
        ignore_result=bool(options.get("ignore_result", False)),
        concurrency=concurrency,
        rate_limit=parse_rate_limit(f"{where} rate_limit", options.get("rate_limit")),
    )
