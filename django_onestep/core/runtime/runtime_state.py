"""The state an app's runtime modules share, in one object with public attributes.

``OneStepApp`` creates one :class:`Runtime` (``app.runtime``); ``serving``, the task
runners, the executor, the controls and ``describe()`` read and change it there, so no
module reaches into another module's private attributes. It is the runtime's own
plumbing, not a stable API: code using an app calls ``OneStepApp``'s methods.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from django_onestep.core.processes.pool import ProcessPool
from django_onestep.core.processes.pool_options import ProcessPoolOptions
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
    * ``process_pool``: the child processes of ``executor="process"`` tasks, while serving;
    * ``named_resources``: onestep's ``app.resources``, opened first and shared by every
      task (a per-task stop never closes them);
    * ``opened_resources``: what is open, in opening order (shutdown closes it in reverse);
    * ``runner_handles``: the asyncio task of each task's runner, by task name;
    * ``until_idle`` / ``lone_runner_stops_when_idle``: how the current ``serve()`` runs
      its runners (a runner started by ``start_task_runner`` runs the same way).
    """

    def __init__(self, app: Any, app_name: str, events_logger: logging.Logger) -> None:
        self.app_name = app_name
        self.tasks: list[TaskSpec] = []
        self.hub = EventHub(app, events_logger)
        self.lifecycle = Lifecycle()
        self.sync = SyncPool(app_name)
        self.process_pool: ProcessPool | None = None
        self.named_resources: dict[str, Any] = {}
        self.opened_resources: list[Any] = []
        self.runner_handles: dict[str, asyncio.Task[None]] = {}
        self.until_idle = False
        self.lone_runner_stops_when_idle = False

    def find_task(self, name: str) -> TaskSpec | None:
        for spec in self.tasks:
            if spec.name == name:
                return spec
        return None

    def get_process_pool(self, options: ProcessPoolOptions) -> ProcessPool:
        """The pool of this ``serve()``, started on first use (so only if a task needs it)."""
        if self.process_pool is None:
            self.process_pool = ProcessPool(
                self.app_name,
                size=options.pool_size,
                setup_path=options.setup_path,
                max_tasks_per_child=options.max_tasks_per_child,
                max_memory_per_child_mb=options.max_memory_per_child_mb,
            )
        return self.process_pool

    def prewarm_process_pool(self, specs: list[TaskSpec], options: ProcessPoolOptions) -> None:
        """Start the children that the ``executor="process"`` tasks of ``specs`` can use."""
        wanted = sum(spec.concurrency for spec in specs if spec.handler_path is not None)
        if wanted:
            self.get_process_pool(options).prewarm(wanted)

    async def close_process_pool(self) -> None:
        pool, self.process_pool = self.process_pool, None
        if pool is not None:
            await pool.close()

    def task_logger(self, spec: TaskSpec) -> logging.Logger:
        return logging.getLogger(f"onestep.{self.app_name}.{spec.name}")
