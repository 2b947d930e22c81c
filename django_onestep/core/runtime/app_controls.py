"""``OneStepApp``'s run-state and operational controls (onestep 1.x names and shapes).

Kept apart from ``app.py`` (registration, resources, serving) because they are many and
each only delegates: to the lifecycle flags (``lifecycle.py``), the status and dead-letter
controls (``controls.py``) and the per-task runners (``runner_control.py``). Every
``request_*`` is safe from any thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django_onestep.core.runtime import runner_control

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.controls import Controls
    from django_onestep.core.runtime.runtime_state import Runtime

__all__ = ["AppControls"]


class AppControls:
    """The state and control methods of :class:`~django_onestep.core.runtime.app.OneStepApp`."""

    name: str
    runtime: Runtime
    _controls: Controls

    def _app(self) -> OneStepApp:
        return cast("OneStepApp", self)  # the only class this mixin is part of

    # -- state --------------------------------------------------------------------------
    @property
    def is_stopping(self) -> bool:
        return self.runtime.lifecycle.stopping

    @property
    def is_draining(self) -> bool:
        return self.runtime.lifecycle.draining

    def is_task_paused(self, task_name: str) -> bool:
        return self.runtime.lifecycle.is_paused(task_name)

    def runtime_status(self) -> dict[str, Any]:
        """``{"app", "serving", "stopping", "draining", "inflight_task_count", "tasks":
        {name: {"running", "inflight", "concurrency", "fetching", "paused",
        "fetch_failures"}}}``."""
        lifecycle = self.runtime.lifecycle
        runners = {runner.task.name: runner for runner in lifecycle.runners}
        tasks: dict[str, Any] = {}
        for spec in self.runtime.tasks:
            runner = runners.get(spec.name)
            tasks[spec.name] = {
                "running": runner is not None,
                "inflight": runner.inflight_count if runner is not None else 0,
                "concurrency": spec.concurrency,
                "fetching": runner.is_fetching if runner is not None else False,
                "paused": lifecycle.is_paused(spec.name),
                "fetch_failures": runner.fetch_failures if runner is not None else 0,
            }
        return {
            "app": self.name,
            "serving": lifecycle.serving,
            "stopping": lifecycle.stopping,
            "draining": lifecycle.draining,
            "inflight_task_count": sum(t["inflight"] for t in tasks.values()),
            "tasks": tasks,
        }

    # -- controls (safe from any thread) -------------------------------------------------
    def request_shutdown(self) -> None:
        self.runtime.lifecycle.request_stop()

    async def wait_for_shutdown(self) -> None:
        """Return once a shutdown is requested (onestep's name; for background loops
        started in ``on_startup`` that must end with the app)."""
        await self.runtime.lifecycle.wait_stopping(None)

    def request_restart(self) -> None:
        """A shutdown that asks whoever runs the app to start it again:
        ``restart_requested`` is True from now until the next ``serve()`` starts."""
        self.runtime.lifecycle.request_restart()

    @property
    def restart_requested(self) -> bool:
        return self.runtime.lifecycle.restart_requested

    async def wait_for_drain_request(self) -> None:
        """Return once a drain is requested (at once if it already was)."""
        lifecycle = self.runtime.lifecycle
        await lifecycle.wait_until(lambda: lifecycle.drain_requested)

    async def wait_for_task_pause_request(self, task_name: str) -> None:
        """Return once a pause of ``task_name`` or a shutdown is requested."""
        lifecycle = self.runtime.lifecycle
        await lifecycle.wait_until(lambda: lifecycle.is_paused(task_name) or lifecycle.stopping)

    async def wait_for_stop_fetching(self, task_name: str | None = None) -> None:
        """Return once fetching should stop: a shutdown or a drain is requested, or a
        pause of ``task_name`` when one is given (for sources that wait inside fetch)."""
        lifecycle = self.runtime.lifecycle

        def stop_fetching() -> bool:
            paused = task_name is not None and task_name in lifecycle.paused
            return lifecycle.stopping or lifecycle.drain_requested or paused

        await lifecycle.wait_until(stop_fetching)

    def request_drain(self) -> dict[str, Any]:
        self.runtime.lifecycle.request_drain()
        return self.drain_status()

    def drain_status(self) -> dict[str, Any]:
        return self._controls.drain_status()

    async def wait_for_drain(self) -> dict[str, Any]:
        while True:
            status = self.drain_status()
            if status["drained"]:
                return status
            await self.runtime.lifecycle.wait_change(1.0)

    def request_task_pause(self, task_name: str) -> dict[str, Any]:
        self._controls.require_task(task_name)
        self.runtime.lifecycle.request_pause(task_name)
        return self.task_pause_status(task_name)

    def request_task_resume(self, task_name: str) -> dict[str, Any]:
        self._controls.require_task(task_name)
        self.runtime.lifecycle.request_resume(task_name)
        return self.task_resume_status(task_name)

    def task_pause_status(self, task_name: str) -> dict[str, Any]:
        return self._controls.task_pause_status(task_name)

    def task_resume_status(self, task_name: str) -> dict[str, Any]:
        return self._controls.task_resume_status(task_name)

    async def wait_for_task_pause(self, task_name: str) -> dict[str, Any]:
        while True:
            status = self.task_pause_status(task_name)
            if status["paused"]:
                return status
            await self.runtime.lifecycle.wait_change(1.0)

    async def wait_for_task_resume(self, task_name: str) -> dict[str, Any]:
        while True:
            status = self.task_resume_status(task_name)
            if status["accepting_new_work"]:
                return status
            await self.runtime.lifecycle.wait_change(1.0)

    async def replay_task_dead_letters(self, task_name: str, *, limit: int) -> dict[str, Any]:
        return await self._controls.replay_dead_letters(task_name, limit=limit)

    async def discard_task_dead_letters(self, task_name: str, *, limit: int) -> dict[str, Any]:
        return await self._controls.discard_dead_letters(task_name, limit=limit)

    async def run_task_once(self, task_name: str, *, payload: Any = None) -> dict[str, Any]:
        return await self._controls.run_task_once(task_name, payload={} if payload is None else payload)

    def task_supported_commands(self, task_name: str) -> list[str]:
        return self._controls.supported_commands(self._controls.require_task(task_name))

    def supports_dead_letter_replay_commands(self) -> bool:
        """True if some task supports ``replay_task_dead_letters``."""
        return any(self._controls.supports_replay(spec) for spec in self.runtime.tasks)

    def supports_dead_letter_discard_commands(self) -> bool:
        """True if some task supports ``discard_task_dead_letters``."""
        return any(self._controls.supports_discard(spec) for spec in self.runtime.tasks)

    def supports_manual_run_commands(self) -> bool:
        """True if some task supports ``run_task_once``."""
        return any(self._controls.supports_manual_run(spec) for spec in self.runtime.tasks)

    def task_control_snapshot(self, task_name: str) -> dict[str, Any]:
        """``{"task_name", "supported_commands", "pause_requested", "paused",
        "accepting_new_work", "runner_count", "parked_runner_count",
        "fetching_runner_count", "inflight_task_count"}``; ValueError for an unknown task
        or one without a source."""
        return self._controls.task_control_snapshot(task_name)

    def task_control_snapshots(self) -> list[dict[str, Any]]:
        """``task_control_snapshot()`` of every task with a source, in registration order."""
        return [
            self.task_control_snapshot(spec.name) for spec in self.runtime.tasks if spec.source is not None
        ]

    # -- per-task runners (while serving) ---------------------------------------------------
    async def stop_task_runner(self, task_name: str) -> dict[str, Any]:
        """Stop one task's runner as a shutdown would (in-flight work finishes, up to
        ``shutdown_timeout_s``), forget its pause, and close the resources no running
        task, state store or ``app.resources`` entry shares. Other tasks keep running.
        Returns ``task_control_snapshot(task_name)``."""
        spec = self._controls.require_task(task_name)
        await runner_control.stop_task_runner(self._app(), spec)
        return self.task_control_snapshot(task_name)

    async def start_task_runner(self, task_name: str) -> dict[str, Any]:
        """Open the task's resources that are closed and start its runner (nothing to
        do if it runs). RuntimeError when the app is not serving or is shutting down.
        Returns ``task_control_snapshot(task_name)``."""
        spec = self._controls.require_task(task_name)
        await runner_control.start_task_runner(self._app(), spec)
        return self.task_control_snapshot(task_name)

    async def restart_task_runner(self, task_name: str) -> dict[str, Any]:
        """``stop_task_runner`` then ``start_task_runner``: a fresh runner, reopened
        private resources, the other tasks untouched. RuntimeError (before stopping
        anything) when the app is not serving."""
        spec = self._controls.require_task(task_name)
        runner_control.check_can_start(self._app(), spec)
        await runner_control.stop_task_runner(self._app(), spec)
        await runner_control.start_task_runner(self._app(), spec)
        return self.task_control_snapshot(task_name)
