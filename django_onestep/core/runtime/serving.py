"""What ``OneStepApp.startup/shutdown/serve/run`` do: open resources, run one runner per
task, stop on request (or when idle), close everything in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django_onestep.core.runtime.lifecycle import Lifecycle
from django_onestep.core.runtime.resources import close_resources, open_resource
from django_onestep.core.runtime.task_runner import TaskRunner

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["serve", "shutdown", "signal_handlers", "startup"]


def resources_for(app: OneStepApp, specs: list[TaskSpec]) -> list[Any]:
    """State store, then each task's source, emit sinks and dead-letter sinks, once each."""
    resources: list[Any] = []
    seen: set[int] = set()

    def add(resource: Any) -> None:
        if resource is not None and id(resource) not in seen:
            seen.add(id(resource))
            resources.append(resource)

    add(app.state)
    for spec in specs:
        add(spec.source)
        for sink in spec.emit:
            add(sink)
        for sink in app.dead_letter_sinks_for(spec):
            add(sink)
    return resources


async def startup(app: OneStepApp, specs: list[TaskSpec]) -> None:
    runtime = app.runtime
    opened: list[Any] = []
    try:
        for resource in resources_for(app, specs):
            await open_resource(resource)
            opened.append(resource)
        runtime.opened_resources = opened
        await runtime.hub.run_hooks(runtime.hub.startup_hooks)
    except BaseException:
        await close_resources(opened, app.events_logger, suppress=True)
        runtime.opened_resources = []
        raise


async def shutdown(app: OneStepApp) -> None:
    runtime = app.runtime
    lifecycle = runtime.lifecycle
    lifecycle.request_stop()  # also wakes wait_for_shutdown() in background loops
    hook_error: BaseException | None = None
    try:
        await runtime.hub.run_hooks(runtime.hub.shutdown_hooks, keep_going=True)
    except Exception as exc:
        hook_error = exc
    finally:
        close_error = await close_resources(runtime.opened_resources, app.events_logger, suppress=False)
        runtime.opened_resources = []
        runtime.sync.shutdown()
        if not lifecycle.serving:  # a shutdown() of its own: the stop is done (serve() clears it itself)
            lifecycle.stopping = False
    if hook_error is not None:
        raise hook_error
    if close_error is not None:
        raise close_error


async def serve(app: OneStepApp, selected: list[TaskSpec], *, until_idle: bool) -> None:
    runtime = app.runtime
    lifecycle = runtime.lifecycle
    if lifecycle.serving:
        raise RuntimeError(f"app {app.name!r} is already serving")
    lifecycle.bind(asyncio.get_running_loop())
    lifecycle.serving = True
    runtime.sync.configure(sum(s.concurrency for s in selected if s.source is not None and not s.is_async))
    try:
        await startup(app, selected)
    except BaseException:
        lifecycle.unbind()
        raise
    error: BaseException | None = None
    handles: list[asyncio.Task[None]] = []
    try:
        runners = [TaskRunner(app, spec, until_idle=until_idle) for spec in selected if spec.source]
        lifecycle.runners = runners
        lifecycle.notify()
        handles = [asyncio.create_task(r.run(), name=f"onestep-runner-{r.task.name}") for r in runners]
        pending: set[asyncio.Task[None]] = set(handles)
        watcher: asyncio.Task[None] | None = None
        if until_idle and len(runners) == 1:
            runners[0].stop_when_idle = True  # nothing else can feed a lone runner
        elif until_idle and runners:
            watcher = asyncio.create_task(_stop_when_all_idle(lifecycle), name="onestep-idle-watch")
            handles.append(watcher)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for handle in done:
                if handle.cancelled() or handle.exception() is None:
                    continue
                if error is None:
                    error = handle.exception()
                    lifecycle.request_stop()  # the other runners drain and stop
        if watcher is not None and not watcher.done():
            watcher.cancel()
    except asyncio.CancelledError:
        lifecycle.request_stop()
        for handle in handles:
            handle.cancel()
        await asyncio.gather(*handles, return_exceptions=True)
        raise
    finally:
        try:
            await shutdown(app)
        finally:
            lifecycle.unbind()
    if error is not None:
        raise error


async def _stop_when_all_idle(lifecycle: Lifecycle) -> None:
    """Stop serving once every runner is idle, confirmed by one more empty poll each.

    The confirmation matters when tasks feed each other: runner A may have gone idle
    before task B emitted into A's source; A's next poll (after "all idle") sees it.
    Idle runners are woken for that poll at once: a runner whose source answered
    "nothing" quickly (a schedule that is not due) would otherwise sleep out its poll
    interval first, delaying the stop by up to a second for nothing.
    """
    while not lifecycle.stopping:
        runners = list(lifecycle.runners)
        if runners and _all_idle(lifecycle, runners):
            marks = [runner.idle_polls for runner in runners]
            while _all_idle(lifecycle, runners):
                unconfirmed = [r for r, mark in zip(runners, marks, strict=True) if r.idle_polls == mark]
                if not unconfirmed:
                    lifecycle.request_stop()
                    return
                for runner in unconfirmed:
                    runner.wake()
                await lifecycle.wait_change(1.0)
        await lifecycle.wait_change(1.0)


def _all_idle(lifecycle: Lifecycle, runners: list[TaskRunner]) -> bool:
    """The same runners still run (none started or stopped since) and all are idle."""
    return lifecycle.runners == runners and all(runner.idle for runner in runners)


@contextlib.contextmanager
def signal_handlers(lifecycle: Lifecycle) -> Iterator[None]:
    """SIGINT/SIGTERM request a graceful stop; a second one raises KeyboardInterrupt."""
    installed: list[tuple[int, Any]] = []

    def handle(signum: int, frame: Any) -> None:
        if lifecycle.stopping:
            raise KeyboardInterrupt
        lifecycle.request_stop(from_signal=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            installed.append((sig, signal.signal(sig, handle)))
        except (ValueError, OSError):  # not the main thread
            continue
    try:
        yield
    finally:
        for sig, previous in reversed(installed):
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, previous)
