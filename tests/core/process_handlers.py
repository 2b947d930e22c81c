"""Sync handlers the process-executor tests run in child processes (importable by name)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from django_onestep.core.processes.limits import SoftTimeLimitExceeded


def report_pid(ctx: Any, payload: Any) -> dict[str, Any]:
    return {"pid": os.getpid(), "n": payload, "attempts": ctx.current.attempts, "task": ctx.task_name}


def spin_forever(ctx: Any, payload: Any) -> None:
    while True:
        pass


def clean_up_on_soft_limit(ctx: Any, payload: Any) -> str:
    try:
        while True:
            time.sleep(0.01)
    except SoftTimeLimitExceeded:
        return f"cleaned up in {os.getpid()}"


def raise_value_error(ctx: Any, payload: Any) -> None:
    raise ValueError(f"bad input {payload!r}")


def die_on_first_attempt(ctx: Any, payload: Any) -> int:
    if ctx.current.attempts == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def grow_memory(ctx: Any, payload: Any) -> int:
    global _ballast
    _ballast = bytearray(payload * 2**20)  # kept alive: the child's RSS stays high
    _ballast[::4096] = b"x" * len(_ballast[::4096])
    return os.getpid()


_ballast = bytearray()
