"""What ``OneStepApp.startup/shutdown/serve/run`` do: open resources, run one runner per
task, stop on request (or when idle), close everything in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django_onestep.core.runtime.lifecycle import Lifecycle
from django_onestep.core.runtime.resources import close_resources, open_resource, resources_for
from django_onestep.core.runtime.runner_control import start_runner

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.runtime_state import Runtime
    from django_onestep.core.runtime.task import TaskSpec
    from django_onestep.core.runtime.task_runner import TaskRunner

__all__ = ["serve", "shutdown", "signal_handlers", "startup"]


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
        await runtime.close_process_pool()
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
    specs = [spec for spec in selected if spec.source is not None]
    runtime.runner_handles = {}
    runtime.until_idle = until_idle
    runtime.lone_runner_stops_when_idle = until_idle and len(specs) == 1  # nothing else can feed it
    watcher: asyncio.Task[None] | None = None
    try:
        runtime.prewarm_process_pool(specs, app.process_pool_options)
        for spec in specs:
            start_runner(app, spec)
        if until_idle and len(specs) > 1:
            watcher = asyncio.create_task(_stop_when_all_idle(lifecycle), name="onestep-idle-watch")
        if specs:
            error = await _supervise(runtime)
    except asyncio.CancelledError:
        lifecycle.request_stop()
        handles = list(runtime.runner_handles.values())
        for handle in handles:
            handle.cancel()
        await asyncio.gather(*handles, return_exceptions=True)
        raise
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
        try:
            await shutdown(app)
        finally:
            runtime.runner_handles = {}
            lifecycle.unbind()
    if error is not None:
        raise error


async def _supervise(runtime: Runtime) -> BaseException | None:
    """Wait until every runner has ended; return the first runner error (which stops the
    others). Runners may start and stop meanwhile (``start_task_runner``): the handles
    are read again after each change. With every runner stopped by hand and no stop
    requested, serving goes on, waiting for a runner to start or a stop request.
    """
    lifecycle = runtime.lifecycle
    error: BaseException | None = None
    while True:
        handles = dict(runtime.runner_handles)
        for handle in handles.values():
            if not handle.done() or handle.cancelled():
                continue
            failure = handle.exception()
            if failure is not None and error is None:
                error = failure
                lifecycle.request_stop()  # the other runners drain and stop
        if all(handle.done() for handle in handles.values()):
            stopped_by_hand = {runner.task.name for runner in lifecycle.runners if runner.stop_requested}
            if lifecycle.stopping or any(name not in stopped_by_hand for name in handles):
                return error  # a stop, or a runner that ended by itself (until_idle)
        await lifecycle.wait_control()


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
