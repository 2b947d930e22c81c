"""A backend for Django's Tasks framework on the database queue.

``TASKS = {"default": {"BACKEND": "django_onestep.tasks_backend.DatabaseBackend"}}``
(``backend.py``); ``onestep_worker`` runs the ``@task`` functions (``runner.py``);
``compat.py`` picks ``django.tasks`` (Django 6) or the ``django-tasks`` backport (5.2).
The backend is imported on first use, so a worker without ``TASKS`` needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_onestep.tasks_backend.backend import DatabaseBackend

__all__ = ["DatabaseBackend", "install_configured_backends"]

_PREFIX = "django_onestep.tasks_backend"


def __getattr__(name: str) -> Any:
    if name == "DatabaseBackend":
        from django_onestep.tasks_backend.backend import DatabaseBackend

        return DatabaseBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def install_configured_backends(app: Any) -> list[str]:
    """Add the runners of every ``DatabaseBackend`` in ``TASKS`` to ``app`` (none: no import)."""
    from django.conf import settings

    configured = getattr(settings, "TASKS", None) or {}
    if not any(str(params.get("BACKEND", "")).startswith(_PREFIX) for params in configured.values()):
        return []
    from django_onestep.core.errors import ConfigurationError, MissingExtraError

    try:
        from django_onestep.tasks_backend.runner import install_task_backends
    except MissingExtraError as exc:  # a setup mistake: the worker exits 2 with this line
        raise ConfigurationError(f"TASKS names {_PREFIX}.DatabaseBackend, but {exc}") from None
    return install_task_backends(app)
