"""Cron push tasks: ``cron_push("nightly-report", "0 3 * * *", url=..., payload=...)``.

A task with a ``CronSource`` whose handler calls ``push``: the schedules machinery
fires each tick once across workers (``schedules_db``), and the push is then delivered,
retried and dead-lettered like any other.
"""

from __future__ import annotations

from typing import Any

from django_onestep.core.schedules.cron import CronSource
from django_onestep.pushes.outbox import push

__all__ = ["cron_push"]


def cron_push(
    name: str, cron: str, *, url: str, payload: Any = None, app: Any = None, **push_options: Any
) -> Any:
    """Register task ``name`` (on the project app unless ``app``) pushing on each tick."""
    if app is None:
        from django_onestep.project.project_app import get_project_app

        app = get_project_app()

    def fire(ctx: Any, tick: Any) -> str:
        return str(push(url, payload, **push_options))

    fire.__name__ = name
    return app.task(name=name, source=CronSource(cron), description=f"Pushes to {url} on {cron!r}")(fire)
