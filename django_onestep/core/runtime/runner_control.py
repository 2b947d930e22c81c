"""Starting and stopping one task's runner while the app serves (onestep's per-task
restart): ``serve()`` starts every runner this way, and ``stop_task_runner`` /
``start_task_runner`` stop or start one without touching the others.

A stopped runner ends the way serving does: it stops fetching, lets its in-flight
deliveries finish (up to ``shutdown_timeout_s``) and hands back what it fetched but
did not start. Then the resources only that task uses are closed; resources another
running task, the state store or ``app.resources`` also use stay open.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from django_onestep.core.runtime.batch_runner import BatchTaskRunner
from django_onestep.core.runtime.resources import close_resources, open_resource, task_resources
from django_onestep.core.runtime.task_runner import TaskRunner

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["check_can_start", "start_runner", "start_task_runner", "stop_task_runner"]


def start_runner(app: OneStepApp, spec: TaskSpec) -> TaskRunner:
    """Create the runner of ``spec`` and its asyncio task (the app serves, its resources
    are open)."""
    runtime = app.runtime
    lifecycle = runtime.lifecycle
    runner_class = TaskRunner if spec.batch_size is None else BatchTaskRunner
    runner = runner_class(app, spec, until_idle=runtime.until_idle)
    runner.stop_when_idle = runtime.lone_runner_stops_when_idle
    handle = asyncio.create_task(runner.run(), name=f"onestep-runner-{spec.name}")
    handle.add_done_callback(lambda _: lifecycle.notify_control())  # serve() watches its runners
    lifecycle.runners.append(runner)
    runtime.runner_handles[spec.name] = handle
    lifecycle.notify()
    lifecycle.notify_control()
    return runner


async def stop_task_runner(app: OneStepApp, spec: TaskSpec) -> None:
    """Stop the task's runner (if it runs) gracefully, then close its private resources."""
    runtime = app.runtime
    lifecycle = runtime.lifecycle
    handle = runtime.runner_handles.get(spec.name)
    for runner in lifecycle.runners:
        if runner.task.name == spec.name:
            runner.stop()
    if handle is not None:
        # Registered until it has ended: a shutdown meanwhile waits for it before closing.
        await asyncio.gather(handle, return_exceptions=True)
        if runtime.runner_handles.get(spec.name) is handle:
            del runtime.runner_handles[spec.name]
    lifecycle.runners = [runner for runner in lifecycle.runners if runner.task.name != spec.name]
    lifecycle.paused.discard(spec.name)
    shared = _ids_still_in_use(app)
    private = [
        resource
        for resource in _opened(runtime.opened_resources, task_resources(app, spec))
        if id(resource) not in shared
    ]
    if private:
        closing = {id(resource) for resource in private}
        runtime.opened_resources = [r for r in runtime.opened_resources if id(r) not in closing]
        await close_resources(private, app.events_logger, suppress=True)  # failures are logged
    lifecycle.notify()
    lifecycle.notify_control()


def check_can_start(app: OneStepApp, spec: TaskSpec) -> None:
    """RuntimeError unless the app serves and is not shutting down."""
    lifecycle = app.runtime.lifecycle
    if not lifecycle.serving or lifecycle.stopping:
        state = "shutting down" if lifecycle.serving else "not serving"
        raise RuntimeError(
            f"cannot start the runner of task {spec.name!r}: app {app.name!r} is {state} "
            "(task runners start while serve() runs)"
        )


async def start_task_runner(app: OneStepApp, spec: TaskSpec) -> None:
    """Open the task's resources that are not open, then start its runner. Nothing to do
    when its runner already runs."""
    check_can_start(app, spec)
    runtime = app.runtime
    lifecycle = runtime.lifecycle
    handle = runtime.runner_handles.get(spec.name)
    if handle is not None and not handle.done():
        return
    lifecycle.runners = [runner for runner in lifecycle.runners if runner.task.name != spec.name]
    opened: list[Any] = []
    try:
        for resource in task_resources(app, spec):
            if resource is None or _opened([*runtime.opened_resources, *opened], [resource]):
                continue
            await open_resource(resource)
            opened.append(resource)
    except BaseException:
        await close_resources(opened, app.events_logger, suppress=True)
        raise
    runtime.opened_resources.extend(opened)
    start_runner(app, spec)


def _opened(opened_resources: list[Any], candidates: list[Any]) -> list[Any]:
    """The candidates that are open, once each (compared by identity, not ==)."""
    open_ids = {id(resource) for resource in opened_resources}
    found: dict[int, Any] = {}
    for resource in candidates:
        if resource is not None and id(resource) in open_ids:
            found.setdefault(id(resource), resource)
    return list(found.values())


def _ids_still_in_use(app: OneStepApp) -> set[int]:
    """Resources the state store, ``app.resources`` or a running task's runner uses."""
    runtime = app.runtime
    in_use = {id(app.state)}
    in_use.update(id(resource) for resource in runtime.named_resources.values())
    for runner in runtime.lifecycle.runners:
        in_use.update(id(resource) for resource in task_resources(app, runner.task))
    return in_use
