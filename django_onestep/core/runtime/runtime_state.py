"""The state an app's runtime modules share, in one object with public attributes.

``OneStepApp`` creates one :class:`Runtime` (``app.runtime``); ``serving``, the task
runners, the executor, the controls and ``describe()`` read and change it there, so no
module reaches into another module's private attributes. It is the runtime's own
plumbing, not a stable API: code using an app calls ``OneStepApp``'s methods.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django_onestep.core.runtime.hub import EventHub
from django_onestep.core.runtime.lifecycle import Lifecycle
from django_onestep.core.runtime.sync import SyncPool

if TYPE_CHECKING:
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["Runtime"]


class Runtime:
    """What one app's runtime modules share.

    * ``tasks``: the registered :class:`TaskSpec` list, in registration order;
    * ``hub``: startup/shutdown hooks and event handlers;
    * ``lifecycle``: stop/drain/pause/restart flags, the running task runners, waiters;
    * ``sync``: the thread pool that runs sync handlers;
    * ``opened_resources``: what startup opened, in order (shutdown closes it in reverse).
    """

    def __init__(self, app: Any, app_name: str, events_logger: logging.Logger) -> None:
        self.app_name = app_name
        self.tasks: list[TaskSpec] = []
        self.hub = EventHub(app, events_logger)
        self.lifecycle = Lifecycle()
        self.sync = SyncPool(app_name)
        self.opened_resources: list[Any] = []

    def find_task(self, name: str) -> TaskSpec | None:
        for spec in self.tasks:
            if spec.name == name:
                return spec
        return None

    def task_logger(self, spec: TaskSpec) -> logging.Logger:
        return logging.getLogger(f"onestep.{self.app_name}.{spec.name}")
