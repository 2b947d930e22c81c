"""The options ``@app.task`` takes, and what to write instead of one it does not take.

Most unknown options come from Celery habits (``bind=True``, ``max_retries=3``,
``queue="emails"``): the error names the option and the task, and says what this
runtime uses instead, so the fix is one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from django_onestep.core.errors import ConfigurationError

__all__ = ["TASK_OPTIONS", "bare_decorator_error", "unknown_options_error"]

TASK_OPTIONS = (
    "name",
    "source",
    "emit",
    "dead_letter",
    "concurrency",
    "retry",
    "timeout_s",
    "config",
    "hooks",
    "description",
    "executor",
    "time_limit_s",
    "batch_size",
    "batch_within_s",
    "store_result",
    "leader_only",
)

_RETRY = "use retry=MaxAttempts(n) / ExponentialBackoff(...)"
_TIMEOUT = "use timeout_s=... (raised in the handler)"
_HARD_LIMIT = "use time_limit_s=... with executor='process' (the child process is killed)"
_QUEUE = "use source=DatabaseQueue('name')"

# option -> what to write instead
HINTS: dict[str, str] = {
    "bind": "the handler always gets ctx first: def handler(ctx, payload)",
    "max_retries": _RETRY,
    "autoretry_for": _RETRY,
    "retry_backoff": _RETRY,
    "retry_backoff_max": _RETRY,
    "retry_jitter": _RETRY,
    "retry_kwargs": _RETRY,
    "default_retry_delay": "use retry=MaxAttempts(n, delay_s=...)",
    "queue": _QUEUE,
    "routing_key": _QUEUE,
    "exchange": _QUEUE,
    "countdown": "pass delay_s to enqueue()",
    "eta": "pass run_at to enqueue()",
    "priority": "pass priority to enqueue()",
    "time_limit": _HARD_LIMIT,
    "soft_time_limit": _TIMEOUT,
    "timeout": _TIMEOUT,
    "rate_limit": "there is no rate limit; concurrency=N bounds the runs in flight",
    "ignore_result": "use store_result=False",
    "acks_late": "a delivery is always acknowledged after its handler finishes",
    "base": "there is no task base class; use hooks=TaskHooks(before=..., on_failure=...)",
    "sinks": "use emit=...",
    "dead_letter_sinks": "use dead_letter=...",
    "metadata": "use config={...}",
}


def unknown_options_error(task_name: str | None, options: Iterable[str]) -> ConfigurationError:
    """One line naming the first unknown option and the task, with what to use instead."""
    where = f"task {task_name!r}" if task_name else "app.task()"
    first, *others = options
    hint = HINTS.get(first)
    if hint is None:
        close = difflib.get_close_matches(first, TASK_OPTIONS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "options: " + ", ".join(TASK_OPTIONS)
    also = f"; also unknown: {', '.join(repr(o) for o in others)}" if others else ""
    return ConfigurationError(f"{where}: unknown option {first!r} ({hint}){also}")


def bare_decorator_error(func: Any) -> ConfigurationError:
    """``@app.task`` without parentheses, or a positional argument to ``app.task()``."""
    if not callable(func):
        return ConfigurationError(
            f"app.task() takes its options by keyword (name=..., source=...), got {func!r}"
        )
    name = getattr(func, "__name__", None) or repr(func)
    return ConfigurationError(
        f"task {name!r}: @app.task needs parentheses: write @app.task() (with source=... for it to get work)"
    )
