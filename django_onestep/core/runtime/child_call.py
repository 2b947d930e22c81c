"""One delivery of an ``executor="process"`` task, handed to the app's process pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django_onestep.core.processes.child_context import ChildEnvelope, ChildTaskContext

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.core.runtime.context import TaskContext
    from django_onestep.core.runtime.task import TaskSpec

__all__ = ["run_in_child"]


async def run_in_child(app: OneStepApp, task: TaskSpec, ctx: TaskContext, payload: Any) -> Any:
    """The handler's result; ``timeout_s`` is raised inside the child, ``time_limit_s`` kills it."""
    assert task.handler_path is not None
    envelope = ctx.current
    child_ctx = ChildTaskContext(
        app_name=app.name,
        task_name=task.name,
        current=ChildEnvelope(attempts=envelope.attempts, meta=dict(envelope.meta or {})),
        task_config=dict(task.config),
        job_id=getattr(ctx.delivery, "job_id", None),
    )
    pool = app.runtime.get_process_pool(app.process_pool_options)
    return await pool.run(
        task.handler_path, child_ctx, payload, soft_limit_s=task.timeout_s, hard_limit_s=task.time_limit_s
    )
