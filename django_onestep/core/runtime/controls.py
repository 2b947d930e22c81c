"""Operational controls with onestep's status dicts (Appendix A of the spec):
drain, pause/resume, dead-letter replay/discard and run-once.

Every control validates the task first: an unknown task, or a task without a source,
raises ValueError naming it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django_onestep.core.base import Delivery, Sink, Source
from django_onestep.core.envelope import Envelope
from django_onestep.core.runtime.batch_executor import BatchExecutor
from django_onestep.core.runtime.executor import DeliveryExecutor
from django_onestep.core.validation import positive_int

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["MAX_MANUAL_ATTEMPTS", "Controls"]

# run_task_once retries in place; a failure that always asks for a retry (e.g. an
# unreachable dead-letter sink) must not loop forever.
MAX_MANUAL_ATTEMPTS = 100


class _ManualRunDelivery(Delivery):
    """A delivery that exists only for ``run_task_once``; retries loop in place."""

    def __init__(self, envelope: Envelope) -> None:
        super().__init__(envelope)
        self.acked = False
        self.failed = False
        self.retry_requested = False

    async def ack(self) -> None:
        self.acked = True

    async def retry(self, *, delay_s: float | None = None) -> None:
        self.retry_requested = True
        self.envelope = Envelope(
            body=copy.deepcopy(self.envelope.body),
            meta=copy.deepcopy(self.envelope.meta),
            attempts=self.envelope.attempts + 1,
        )

    async def fail(self, exc: Exception | None = None) -> None:
        self.failed = True


def _limit(label: str, limit: int) -> int:
    return positive_int(f"{label} limit", limit)


def _all_parked(counts: dict[str, int]) -> bool:
    """Drained / paused: every runner parked, nothing fetching, nothing in flight."""
    return (
        counts["inflight_task_count"] == 0
        and counts["fetching_runner_count"] == 0
        and counts["parked_runner_count"] == counts["runner_count"]
    )


def _completion(attempted: int, succeeded: int, failed: int) -> str:
    if attempted == 0 or failed == 0:
        return "complete"
    return "partial" if succeeded > 0 else "failed"


class Controls:
    def __init__(self, app: OneStepApp) -> None:
        self.app = app

    # -- validation ---------------------------------------------------------------------
    def require_task(self, task_name: str) -> TaskSpec:
        spec = self.app.runtime.find_task(task_name)
        if spec is None:
            raise ValueError(f"task {task_name!r} was not found in app {self.app.name!r}")
        if spec.source is None:
            raise ValueError(f"task {task_name!r} does not have a controllable source runner")
        return spec

    def supports_discard(self, spec: TaskSpec) -> bool:
        sinks = self.app.dead_letter_sinks_for(spec)
        return len(sinks) == 1 and isinstance(sinks[0], Source)

    def supports_replay(self, spec: TaskSpec) -> bool:
        return isinstance(spec.source, Sink) and self.supports_discard(spec)

    def supports_manual_run(self, spec: TaskSpec) -> bool:
        return spec.source is not None and bool(getattr(spec.source, "supports_manual_run", False))

    def supported_commands(self, spec: TaskSpec) -> list[str]:
        commands = ["pause_task", "resume_task", "restart_task"]
        if self.supports_discard(spec):
            commands.append("discard_dead_letters")
        if self.supports_replay(spec):
            commands.append("replay_dead_letters")
        if self.supports_manual_run(spec):
            commands.append("run_task_once")
        return commands

    # -- status -------------------------------------------------------------------------
    def _counts(self, task_name: str | None, *, parked_attrs: tuple[str, ...]) -> dict[str, int]:
        runners = self.app.runtime.lifecycle.runners
        if task_name is not None:
            runners = [runner for runner in runners if runner.task.name == task_name]
        return {
            "runner_count": len(runners),
            "parked_runner_count": sum(
                1 for runner in runners if any(getattr(runner, attr) for attr in parked_attrs)
            ),
            "fetching_runner_count": sum(1 for runner in runners if runner.is_fetching),
            "inflight_task_count": sum(runner.inflight_count for runner in runners),
        }

    def drain_status(self) -> dict[str, Any]:
        counts = self._counts(None, parked_attrs=("is_drain_parked",))
        requested = self.app.runtime.lifecycle.drain_requested
        drained = requested and _all_parked(counts)
        return {
            "operation": "drain",
            "requested": requested,
            "completion": "complete" if drained else "in_progress",
            "drained": drained,
            "accepting_new_work": not requested,
            **counts,
        }

    def task_pause_status(self, task_name: str) -> dict[str, Any]:
        self.require_task(task_name)
        # A runner parked by a drain takes no work either: a pause asked for during a
        # drain completes (onestep's wait_for_task_pause waited forever there).
        counts = self._counts(task_name, parked_attrs=("is_pause_parked", "is_drain_parked"))
        requested = self.app.runtime.lifecycle.is_paused(task_name)
        paused = requested and _all_parked(counts)
        return {
            "operation": "pause_task",
            "task_name": task_name,
            "requested": requested,
            "completion": "complete" if paused else "in_progress",
            "paused": paused,
            "accepting_new_work": not requested,
            **counts,
        }

    def task_control_snapshot(self, task_name: str) -> dict[str, Any]:
        spec = self.require_task(task_name)
        # parked as in task_pause_status: a drained runner takes no work either
        counts = self._counts(task_name, parked_attrs=("is_pause_parked", "is_drain_parked"))
        requested = self.app.runtime.lifecycle.is_paused(task_name)
        return {
            "task_name": task_name,
            "supported_commands": self.supported_commands(spec),
            "pause_requested": requested,
            "paused": requested and _all_parked(counts),
            "accepting_new_work": not requested,
            **counts,
        }

    def task_resume_status(self, task_name: str) -> dict[str, Any]:
        self.require_task(task_name)
        counts = self._counts(task_name, parked_attrs=("is_pause_parked",))
        requested = self.app.runtime.lifecycle.is_paused(task_name)
        accepting = not requested and counts["parked_runner_count"] == 0
        return {
            "operation": "resume_task",
            "task_name": task_name,
            "requested": True,
            "completion": "complete" if accepting else "in_progress",
            "paused": not accepting,
            "accepting_new_work": accepting,
            **counts,
        }

    # -- dead letters -------------------------------------------------------------------
    async def replay_dead_letters(self, task_name: str, *, limit: int) -> dict[str, Any]:
        _limit("dead-letter replay", limit)
        spec = self.require_task(task_name)
        if not self.supports_replay(spec):
            raise ValueError(
                f"task {task_name!r} does not support dead-letter replay: it needs exactly one "
                "dead-letter sink that is also a Source and a source that is also a Sink"
            )
        source = spec.source
        assert isinstance(source, Sink)
        dead = self.app.dead_letter_sinks_for(spec)[0]
        assert isinstance(dead, Source)
        logger = self.app.events_logger
        attempted = replayed = failed = 0
        for delivery in await dead.fetch(limit):
            attempted += 1
            try:
                envelope = self._replay_envelope(delivery.envelope)
                await source.send(envelope)
            except Exception:
                failed += 1
                logger.exception("dead-letter replay failed", extra={"task_name": task_name})
                try:
                    await delivery.retry()
                except Exception:
                    logger.exception("dead-letter replay could not put the item back")
                continue
            try:
                await delivery.ack()
            except Exception:
                failed += 1
                logger.exception(
                    "dead-letter replay ack failed after publish", extra={"task_name": task_name}
                )
                continue
            replayed += 1
        return {
            "operation": "replay_dead_letters",
            "task_name": task_name,
            "requested": True,
            "completion": _completion(attempted, replayed, failed),
            "requested_limit": limit,
            "attempted_count": attempted,
            "replayed_count": replayed,
            "failed_count": failed,
            "empty": attempted == 0,
        }

    async def discard_dead_letters(self, task_name: str, *, limit: int) -> dict[str, Any]:
        _limit("dead-letter discard", limit)
        spec = self.require_task(task_name)
        if not self.supports_discard(spec):
            raise ValueError(
                f"task {task_name!r} does not support dead-letter discard: it needs exactly one "
                "dead-letter sink that is also a Source"
            )
        dead = self.app.dead_letter_sinks_for(spec)[0]
        assert isinstance(dead, Source)
        attempted = discarded = failed = 0
        for delivery in await dead.fetch(limit):
            attempted += 1
            try:
                await delivery.ack()
            except Exception:
                failed += 1
                self.app.events_logger.exception(
                    "dead-letter discard ack failed", extra={"task_name": task_name}
                )
                continue
            discarded += 1
        return {
            "operation": "discard_dead_letters",
            "task_name": task_name,
            "requested": True,
            "completion": _completion(attempted, discarded, failed),
            "requested_limit": limit,
            "attempted_count": attempted,
            "discarded_count": discarded,
            "failed_count": failed,
            "empty": attempted == 0,
        }

    @staticmethod
    def _replay_envelope(dead: Envelope) -> Envelope:
        if not isinstance(dead.body, Mapping) or "payload" not in dead.body:
            raise ValueError("dead-letter envelope body must be a mapping with a 'payload' key")
        original_meta = dead.meta.get("original_meta")
        attempts = dead.meta.get("original_attempts")
        return Envelope(
            body=copy.deepcopy(dead.body["payload"]),
            meta=copy.deepcopy(dict(original_meta)) if isinstance(original_meta, Mapping) else {},
            attempts=attempts if isinstance(attempts, int) and attempts >= 0 else 0,
        )

    # -- run once -----------------------------------------------------------------------
    async def run_task_once(self, task_name: str, *, payload: Any) -> dict[str, Any]:
        spec = self.require_task(task_name)
        if not self.supports_manual_run(spec):
            raise ValueError(f"task {task_name!r} does not support manual run with its source")
        body = copy.deepcopy(dict(payload)) if isinstance(payload, Mapping) else copy.deepcopy(payload)
        delivery = _ManualRunDelivery(
            Envelope(body=body, meta={"manual_run": True, "task_name": task_name}, attempts=0)
        )
        logger = self.app.runtime.task_logger(spec)
        if spec.batch_size is None:
            execute = DeliveryExecutor(self.app, spec, logger).execute
        else:  # a batch handler runs it as a batch of one
            execute = BatchExecutor(self.app, spec, logger).execute_one
        attempted = 0
        while True:
            attempted += 1
            await execute(delivery)
            if delivery.acked or not delivery.retry_requested or attempted >= MAX_MANUAL_ATTEMPTS:
                break
            delivery.retry_requested = False
        if not delivery.acked:
            raise RuntimeError(f"manual run of task {task_name!r} failed after {attempted} attempt(s)")
        return {
            "operation": "run_task_once",
            "task_name": task_name,
            "requested": True,
            "completion": "complete",
            "attempted_count": attempted,
            "manual_run": True,
        }
