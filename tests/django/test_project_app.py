"""``from django_onestep import app``: one lazily built OneStepApp with Django defaults."""

from __future__ import annotations

import importlib

import pytest
from django.test import override_settings

import django_onestep
from django_onestep.core.retry import ExponentialBackoff, MaxAttempts, NoRetry
from django_onestep.core.runtime.app import OneStepApp
from django_onestep.core.state import InMemoryStateStore
from django_onestep.orm.dead_letters import DatabaseDeadLetters
from django_onestep.orm.stores import DatabaseStateStore
from django_onestep.project import project_app as project
from django_onestep.project.defaults import (
    LazyStateStore,
    apply_django_defaults,
    run_with_fresh_connections,
)
from django_onestep.signals import SignalBridge


def test_the_export_is_the_same_app_every_time() -> None:
    from django_onestep import app

    assert isinstance(app, OneStepApp)
    assert django_onestep.app is app
    assert importlib.import_module("django_onestep.project.project_app").app is app
    assert project.get_project_app() is app
    assert app.name == "testproject"  # ONESTEP["APP_NAME"]


def test_django_defaults_are_attached() -> None:
    app = project.get_project_app()
    assert app.sync_handler_wrapper is run_with_fresh_connections
    assert app.dead_letter_factory is not None
    assert isinstance(app._django_onestep_signal_bridge, SignalBridge)
    assert isinstance(app.state, LazyStateStore)
    assert app.shutdown_timeout_s == 30.0


def test_every_task_without_dead_letter_gets_the_database_sink() -> None:
    app = project.get_project_app()
    (sink,) = app.dead_letter_sinks_for(app.get_task("always_fails"))
    assert isinstance(sink, DatabaseDeadLetters)


def test_state_default_is_the_orm_store_built_on_first_use() -> None:
    with override_settings(ONESTEP={"APP_NAME": "x"}):
        app = project.build_project_app()
    assert isinstance(app.state, LazyStateStore)
    assert app.state._store is None  # nothing touched yet
    assert isinstance(app.state.store, DatabaseStateStore)


def test_state_memory_and_dotted_path() -> None:
    with override_settings(ONESTEP={"STATE": "memory", "SHUTDOWN_TIMEOUT_S": 3}):
        app = project.build_project_app()
    assert isinstance(app.state, InMemoryStateStore)
    assert app.shutdown_timeout_s == 3.0
    with override_settings(ONESTEP={"STATE": "django_onestep.core.state.InMemoryStateStore"}):
        app = project.build_project_app()
    assert isinstance(app.state.store, InMemoryStateStore)


def test_app_name_and_config_come_from_settings() -> None:
    with override_settings(ONESTEP={"APP_NAME": "shop", "CONFIG": {"region": "eu"}}):
        app = project.build_project_app()
    assert app.name == "shop"
    assert app.config == {"region": "eu"}


@pytest.mark.parametrize(
    ("setting", "expected_type", "attrs"),
    [
        ({"type": "max_attempts", "max_attempts": 3, "delay_s": 2}, MaxAttempts, {"max_attempts": 3}),
        ({"type": "exponential_backoff", "max_attempts": 5}, ExponentialBackoff, {"max_attempts": 5}),
        ({"type": "none"}, NoRetry, {}),
    ],
)
def test_default_retry_applies_to_tasks_that_pass_none(
    setting: dict, expected_type: type, attrs: dict
) -> None:
    with override_settings(ONESTEP={"DEFAULT_RETRY": setting}):
        app = project.build_project_app()

    @app.task()
    def implicit(ctx, payload):
        return None

    @app.task(retry=NoRetry())
    def explicit(ctx, payload):
        return None

    policy = app.get_task("implicit").retry
    assert isinstance(policy, expected_type)
    for name, value in attrs.items():
        assert getattr(policy, name) == value
    assert isinstance(app.get_task("explicit").retry, NoRetry)


def test_without_default_retry_tasks_keep_the_core_default() -> None:
    with override_settings(ONESTEP={}):
        app = project.build_project_app()

    @app.task()
    def plain(ctx, payload):
        return None

    assert isinstance(app.get_task("plain").retry, NoRetry)


def test_defaults_keep_what_a_user_app_set() -> None:
    def my_wrapper(fn):
        return fn()

    app = OneStepApp("mine")
    app.sync_handler_wrapper = my_wrapper
    apply_django_defaults(app)
    apply_django_defaults(app)  # idempotent
    assert app.sync_handler_wrapper is my_wrapper
    assert app.dead_letter_factory is not None
    assert isinstance(app.state, InMemoryStateStore)


def test_unknown_module_attribute() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        project.nope  # noqa: B018


def test_sync_handlers_run_between_close_old_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    import django.db

    calls: list[str] = []
    monkeypatch.setattr(django.db, "close_old_connections", lambda: calls.append("close"))

    assert run_with_fresh_connections(lambda: calls.append("handler") or 42) == 42
    assert calls == ["close", "handler", "close"]

    calls.clear()

    def boom() -> None:
        calls.append("handler")
        raise KeyError("x")

    with pytest.raises(KeyError):
        run_with_fresh_connections(boom)
    assert calls == ["close", "handler", "close"]
