"""Waiting for a condition in tests that run real processes, with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp


def wait_until(
    predicate: Callable[[], object],
    timeout_s: float = 60.0,
    what: str = "the condition",
    interval_s: float = 0.05,
    state: Callable[[], object] | None = None,
) -> None:
    """``state``, when given, describes what was seen instead at the deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            seen = f"; instead: {state()}" if state is not None else ""
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}{seen}")
        time.sleep(interval_s)


def poll(
    predicate: Callable[[], object],
    what: str,
    timeout_s: float = 120.0,
    state: Callable[[], object] | None = None,
) -> None:
    """``wait_until`` with the description first, as the acceptance tests read best."""
    wait_until(predicate, timeout_s, what, state=state)


async def serve_started(app: OneStepApp, timeout_s: float = 30.0) -> asyncio.Task[None]:
    """``app.serve()`` in a task, returned once its startup has opened every resource.

    Startup opens (connects, declares) the app's sources and sinks: a test that uses one
    of them itself meanwhile races that, e.g. reads a RabbitMQ queue not declared yet.
    The startup hooks run after everything is open, so one of them is the signal here.
    A startup that fails raises its error instead.
    """
    opened = asyncio.Event()

    @app.on_startup
    def _started() -> None:
        opened.set()

    serving = asyncio.create_task(app.serve())
    waiting = asyncio.create_task(opened.wait())
    done, _ = await asyncio.wait({serving, waiting}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    if waiting not in done:
        waiting.cancel()
        if serving in done:
            serving.result()  # startup failed: its error
            raise AssertionError("app.serve() returned before its startup hooks ran")
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        raise AssertionError(f"timed out after {timeout_s}s waiting for the app's startup")
    return serving
