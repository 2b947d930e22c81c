"""What the Django layer adds to any OneStepApp it runs (the project app or a TARGET).

Kept apart from ``project.py`` because ``onestep_worker module:attr`` applies the same
defaults to apps that users build themselves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from django_onestep.core.runtime.app import OneStepApp

__all__ = [
    "LazyStateStore",
    "apply_django_defaults",
    "build_state_store",
    "database_dead_letter_factory",
    "run_with_fresh_connections",
]

_APPLIED_MARKER = "_django_onestep_defaults_applied"


class LazyStateStore:
    """Builds the real store on first use, so no model is imported at app creation."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._store: Any = None

    @property
    def store(self) -> Any:
        if self._store is None:
            self._store = self._factory()
        return self._store

    async def load(self, key: str) -> Any:
        return await self.store.load(key)

    async def save(self, key: str, value: Any) -> None:
        await self.store.save(key, value)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)

    def __getattr__(self, name: str) -> Any:  # incr, compare_and_set, ...
        return getattr(self.store, name)


def _database_state_store() -> Any:
    from django_onestep.conf import get_settings
    from django_onestep.orm.stores import DatabaseStateStore

    return DatabaseStateStore(using=get_settings().DATABASE)


def build_state_store(value: Any) -> Any:
    """Turn ``ONESTEP["STATE"]`` into a store object (None = the core's in-memory default)."""
    if value == "database":
        return LazyStateStore(_database_state_store)
    if value == "memory":
        return None
    if isinstance(value, str):
        return LazyStateStore(lambda: import_string(value)())
    return value


def database_dead_letter_factory(app: Any, spec: Any) -> Any:
    """Dead-letter sink for tasks that name none: rows in ``DeadLetter``."""
    from django_onestep.conf import get_settings
    from django_onestep.orm.dead_letters import DatabaseDeadLetters

    return DatabaseDeadLetters(app_name=app.name, task=spec.name, using=get_settings().DATABASE)


# What each child of executor="process" tasks runs first (a path: the child imports it).
CHILD_SETUP_PATH = "django_onestep.project.child_process:setup"


def run_with_fresh_connections(fn: Callable[[], Any]) -> Any:
    """Run a sync handler as Django runs a request: stale connections closed around it."""
    from django.db import close_old_connections

    close_old_connections()
    try:
        return fn()
    finally:
        close_old_connections()


def apply_django_defaults(app: OneStepApp) -> OneStepApp:
    """Attach the Django defaults to ``app`` once; settings a user made are kept."""
    if getattr(app, _APPLIED_MARKER, False):
        return app
    if getattr(app, "sync_handler_wrapper", None) is None:
        app.sync_handler_wrapper = run_with_fresh_connections
    if getattr(app, "dead_letter_factory", None) is None:
        app.dead_letter_factory = database_dead_letter_factory
    if app.process_pool_options.setup_path is None:
        app.process_pool_options = dataclasses.replace(app.process_pool_options, setup_path=CHILD_SETUP_PATH)
    from django_onestep.signals import connect_app_signals

    connect_app_signals(app)
    setattr(app, _APPLIED_MARKER, True)
    return app
