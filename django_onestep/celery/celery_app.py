"""``Celery(...)`` for a project's ``celery.py``: ``@app.task`` is ``@shared_task``.

``config_from_object`` and ``autodiscover_tasks`` are accepted and do nothing: the
settings live in ``ONESTEP``, and django-onestep imports every installed app's
``tasks.py`` by itself.
"""

from __future__ import annotations

from typing import Any

from django_onestep.celery.shared_task import shared_task

__all__ = ["Celery"]


class Celery:
    def __init__(self, main: str | None = None, **options: Any) -> None:
        self.main = main

    def task(self, *args: Any, **options: Any) -> Any:
        return shared_task(*args, **options)

    def config_from_object(self, obj: Any, namespace: str | None = None, **options: Any) -> None:
        """Accepted for a ported ``celery.py``; settings come from ``ONESTEP``."""

    def autodiscover_tasks(self, *args: Any, **options: Any) -> None:
        """Accepted for a ported ``celery.py``; ``tasks.py`` modules are imported at startup."""
