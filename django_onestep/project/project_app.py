"""The project-wide app: ``from django_onestep import app`` (like ``admin.site``).

It is created on first access from the ``ONESTEP`` settings, so ``tasks.py`` can use it
at module level while Django is still loading apps. What it adds to a plain
``OneStepApp``:

- ``ctx.state`` is the ORM store (``DatabaseStateStore``) unless ``ONESTEP["STATE"]``
  says otherwise; it is built on first use, so no model is touched at import time;
- tasks that name no ``dead_letter`` sink store terminal failures in ``DeadLetter``;
- sync handlers run between ``close_old_connections()`` calls, as Django requests do;
- ``ONESTEP["DEFAULT_RETRY"]`` is the retry policy of tasks that pass none;
- task events are sent as Django signals (``django_onestep.signals``);
- ``ONESTEP["CONTROL_PLANE"]`` attaches the control-plane reporter.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from django_onestep.project.control_plane import attach_control_plane
from django_onestep.project.defaults import apply_django_defaults, build_state_store

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

    # resolved by __getattr__ below on every access; declared so type checkers see its type
    app: OneStepApp

__all__ = ["build_project_app", "created_project_app", "get_project_app", "reset_project_app"]

_lock = threading.RLock()
_app: OneStepApp | None = None
_UNSET: Any = object()


def _project_app_class() -> Any:
    from django_onestep.core.runtime.app import OneStepApp

    class ProjectApp(OneStepApp):
        """A OneStepApp whose tasks default to ``ONESTEP["DEFAULT_RETRY"]``."""

        def __init__(self, *args: Any, default_retry: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.default_retry = default_retry

        def task(self, *args: Any, retry: Any = _UNSET, **kwargs: Any) -> Any:
            if retry is _UNSET:
                if self.default_retry is None:
                    return super().task(*args, **kwargs)
                retry = self.default_retry
            return super().task(*args, retry=retry, **kwargs)

        def job(self, job_id: int | str) -> Any:
            """``app.job(id)``: the ``JobHandle`` of one database-queue job (``JobNotFound``)."""
            from django_onestep.results.handle import get_job

            return get_job(job_id)

    return ProjectApp


def build_project_app() -> OneStepApp:
    """Create a new app from the current settings (``get_project_app`` caches one)."""
    from django_onestep.conf import get_settings
    from django_onestep.core.processes.pool_options import ProcessPoolOptions

    conf = get_settings()
    cls = _project_app_class()
    app: OneStepApp = cls(
        conf.APP_NAME,
        config=dict(conf.CONFIG),
        state=build_state_store(conf.STATE),
        shutdown_timeout_s=conf.SHUTDOWN_TIMEOUT_S,
        default_retry=conf.DEFAULT_RETRY,
    )
    pool = conf.PROCESS_POOL
    app.process_pool_options = ProcessPoolOptions(
        size=pool["SIZE"],
        max_tasks_per_child=pool["MAX_TASKS_PER_CHILD"],
        max_memory_per_child_mb=pool["MAX_MEMORY_PER_CHILD_MB"],
    )
    apply_django_defaults(app)
    attach_control_plane(app, conf.CONTROL_PLANE)
    return app


def get_project_app() -> OneStepApp:
    global _app
    with _lock:
        if _app is None:
            _app = build_project_app()
        return _app


def created_project_app() -> OneStepApp | None:
    """The project app if something already created it, else None."""
    return _app


def reset_project_app() -> None:
    """Forget the project app (tests only: tasks registered on it are forgotten too)."""
    global _app
    with _lock:
        _app = None


def __getattr__(name: str) -> Any:
    if name == "app":
        return get_project_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
