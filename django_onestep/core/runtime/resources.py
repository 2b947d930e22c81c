"""Opening and closing sources, sinks and stores (sync or async ``open``/``close``)."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Source
from django_onestep.core.errors import ConfigurationError

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["close_resources", "open_resource", "preflight_problems", "resources_for", "task_resources"]

logger = logging.getLogger("django_onestep.core.runtime.resources")


def resources_for(app: OneStepApp, specs: list[TaskSpec]) -> list[Any]:
    """``app.resources``, the state store, then each task's source, emit sinks and
    dead-letter sinks, once each."""
    resources: list[Any] = []
    seen: set[int] = set()

    def add(resource: Any) -> None:
        if resource is not None and id(resource) not in seen:
            seen.add(id(resource))
            resources.append(resource)

    for resource in app.runtime.named_resources.values():
        add(resource)
    add(app.state)
    for spec in specs:
        for resource in task_resources(app, spec):
            add(resource)
    return resources


def task_resources(app: OneStepApp, spec: TaskSpec) -> list[Any]:
    """A task's source, emit sinks and dead-letter sinks (the app's default one included)."""
    return [spec.source, *spec.emit, *app.dead_letter_sinks_for(spec)]


async def open_resource(resource: Any) -> None:
    opener = getattr(resource, "open", None)
    if callable(opener):
        try:
            result = opener()
            if inspect.isawaitable(result):
                await result
        except BaseException:
            if isinstance(resource, Source):
                resource.is_open = False
            raise
    if isinstance(resource, Source):
        resource.is_open = True


async def close_resource(resource: Any) -> None:
    closer = getattr(resource, "close", None)
    try:
        if callable(closer):
            result = closer()
            if inspect.isawaitable(result):
                await result
    finally:
        if isinstance(resource, Source):
            resource.is_open = False


async def close_resources(
    resources: Sequence[Any], logger: logging.Logger, *, suppress: bool
) -> BaseException | None:
    """Close in reverse order; every close runs even if one fails. Returns the first error
    (None when ``suppress`` is set or all closed)."""
    first: BaseException | None = None
    for resource in reversed(resources):
        try:
            await close_resource(resource)
        except Exception as exc:
            first = first or exc
            logger.exception(
                "resource close failed",
                extra={"resource_name": getattr(resource, "name", type(resource).__name__)},
            )
    return None if suppress else first


def preflight_problems(app: OneStepApp, specs: list[TaskSpec]) -> list[str]:
    """What the resources' ``preflight()`` hooks say before anything starts.

    A resource that can only check its configuration against a server (a SQL source
    comparing its column names with the real table) has a blocking ``preflight()``
    that raises ConfigurationError. ``onestep_check`` reports these as errors, and the
    worker refuses to start on the first one. A server that cannot be reached is not a
    configuration error: it is left to ``open()`` and the runner's back-off.
    """
    problems: list[str] = []
    for resource in resources_for(app, specs):
        preflight = getattr(resource, "preflight", None)
        if not callable(preflight):
            continue
        try:
            preflight()
        except ConfigurationError as exc:
            problems.append(str(exc))
        except Exception as exc:
            logger.warning("preflight of %s skipped: %s", getattr(resource, "name", resource), exc)
    return problems
