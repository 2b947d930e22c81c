"""The ``executor=`` and ``time_limit_s=`` options of ``@app.task``, checked when declared."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_onestep.core.errors import ConfigurationError
from django_onestep.core.processes.handler_ref import handler_path
from django_onestep.core.validation import optional_positive_number

__all__ = ["EXECUTORS", "checked_executor"]

EXECUTORS = ("thread", "process")


def checked_executor(
    where: str,
    handler: Callable[..., Any],
    executor: str,
    timeout_s: float | None,
    time_limit_s: float | None,
    *,
    is_async: bool,
) -> str | None:
    """The handler's import path when it runs in a child process, else None."""
    if executor not in EXECUTORS:
        raise ConfigurationError(f"{where} executor: must be 'thread' or 'process', got {executor!r}")
    optional_positive_number(f"{where} time_limit_s", time_limit_s)
    if executor == "thread":
        if time_limit_s is not None:
            raise ConfigurationError(
                f"{where} time_limit_s: a hard time limit needs executor='process' (a thread cannot be "
                "killed); use timeout_s=... for a limit the handler sees as an exception"
            )
        return None
    if is_async:
        raise ConfigurationError(
            f"{where} executor='process': runs sync handlers (def, not async def); an async handler "
            "runs on the worker's event loop, where timeout_s cancels it"
        )
    if timeout_s is not None and time_limit_s is not None and time_limit_s <= timeout_s:
        raise ConfigurationError(
            f"{where} time_limit_s: must be longer than timeout_s (the soft limit comes first, so "
            f"the handler can clean up), got time_limit_s={time_limit_s} and timeout_s={timeout_s}"
        )
    return handler_path(where, handler)
