"""The built-in push task: what ``onestep_worker`` serves when pushes are enabled.

``ONESTEP["PUSH_ENABLED"] = True`` adds it to the project app when Django starts;
``install_push_task(app)`` adds it to an app a user builds (``onestep_worker mod:app``).
"""

from __future__ import annotations

from typing import Any

from django_onestep.conf import get_settings

__all__ = ["PUSH_TASK", "install_push_task"]

PUSH_TASK = "onestep.push"


def install_push_task(app: Any) -> Any:
    """Register the push task on ``app`` (once); returns its spec."""
    from django_onestep.dbqueue.queue import DatabaseQueue
    from django_onestep.pushes.deliver import PushHandler
    from django_onestep.pushes.outbox import PUSH_QUEUE
    from django_onestep.pushes.push_retry_policy import PushRetry

    existing = app.runtime.find_task(PUSH_TASK)
    if existing is not None:
        return existing
    app.task(
        name=PUSH_TASK,
        source=DatabaseQueue(PUSH_QUEUE),
        concurrency=get_settings().PUSH_CONCURRENCY,
        retry=PushRetry(),
        description="Delivers push() payloads to their HTTP endpoints",
    )(PushHandler())
    return app.runtime.find_task(PUSH_TASK)
