"""Tasks declared in ONESTEP["CONNECTORS"]/["TASKS"] join the project app."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_onestep import checks
from django_onestep.apps import load_settings_tasks
from django_onestep.core.retry import MaxAttempts
from django_onestep.dbqueue.queue import DatabaseQueue
from django_onestep.project import project_app as project

CONNECTORS = {
    "inbox": {"type": "database_queue", "queue": "declared.inbox"},
    "tick": {"type": "interval", "seconds": 30},
}


def test_declared_tasks_are_added_with_their_sources() -> None:
    tasks = [
        {"name": "echo", "source": "inbox", "handler": {"ref": "tests.acceptance.yaml_handlers:echo"}},
        {
            "name": "beat",
            "source": "tick",
            "handler": {"ref": "tests.acceptance.yaml_handlers:echo"},
            "retry": {"type": "max_attempts", "max_attempts": 4},
            "concurrency": 2,
        },
    ]
    with override_settings(
        ONESTEP={"APP_NAME": "decl", "DEFAULT_RETRY": {"type": "max_attempts", "max_attempts": 2}}
    ):
        app = project.build_project_app()
        project_app, project._app = project._app, app
        try:
            assert load_settings_tasks(CONNECTORS, tasks) == ["echo", "beat"]
        finally:
            project._app = project_app
    echo, beat = app.get_task("echo"), app.get_task("beat")
    assert isinstance(echo.source, DatabaseQueue)
    assert echo.source.name == "declared.inbox"
    assert echo.retry.max_attempts == 2  # DEFAULT_RETRY applies when the task names none
    assert isinstance(beat.retry, MaxAttempts)
    assert (beat.retry.max_attempts, beat.concurrency) == (4, 2)


def test_a_bad_declaration_is_system_check_e002(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "_discovery_errors", [])
    bad = [
        {
            "name": "x",
            "source": "inbox",
            "handler": {"ref": "tests.acceptance.yaml_handlers:echo"},
            "retry": {"type": "max_attempts", "max_attempts": 0},
        }
    ]
    with override_settings(ONESTEP={"APP_NAME": "decl"}):
        app = project.build_project_app()
        project_app, project._app = project._app, app
        try:
            assert load_settings_tasks(CONNECTORS, bad) == []
        finally:
            project._app = project_app
    (message,) = checks.discovery_errors()
    assert message.id == "django_onestep.E002"
    assert message.msg.startswith(
        'tasks in ONESTEP["TASKS"] could not be registered: ConfigurationError: tasks[0].retry'
    )
    assert app.tasks == []
