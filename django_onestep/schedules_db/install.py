"""Give every schedule a worker serves the database coordinator, and keep its last outcome."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from django_onestep.conf import get_settings
from django_onestep.core.events import TaskEvent
from django_onestep.core.schedules.schedule import LocalCoordinator, ScheduleSource
from django_onestep.schedules_db.coordinator import OUTCOME_KINDS, DatabaseScheduleCoordinator

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django_onestep.core.runtime.app import OneStepApp

__all__ = ["install_schedule_coordinators"]

logger = logging.getLogger("django_onestep.schedules")


def install_schedule_coordinators(app: OneStepApp, task_names: Iterable[str]) -> dict[str, Any]:
    """Coordinate the schedules of ``task_names`` through the database; returns them by task.

    A coordinator a user set on a source is kept.
    """
    wanted = set(task_names)
    using = get_settings().DATABASE
    installed: dict[str, DatabaseScheduleCoordinator] = {}
    for spec in app.tasks:
        source = spec.source
        if spec.name not in wanted or not isinstance(source, ScheduleSource):
            continue
        if not isinstance(source.coordinator, LocalCoordinator):
            continue
        coordinator = DatabaseScheduleCoordinator(app=app.name, task=spec.name, using=using)
        source.coordinator = coordinator
        installed[spec.name] = coordinator
    if installed:

        def record_outcome(event: TaskEvent) -> Awaitable[None] | None:
            """Nothing to await for other tasks' events (every event comes here)."""
            coordinator = installed.get(event.task)
            if coordinator is not None and event.kind in OUTCOME_KINDS:
                return coordinator.record_outcome(event.kind.value)
            return None

        app.on_event(record_outcome)
    return dict(installed)
