"""INSTALLED_APPS autodiscovery: tasks modules imported, nothing started."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_onestep import checks
from django_onestep.apps import OneStepConfig, autodiscover_tasks


def test_app_config_is_installed() -> None:
    config = apps.get_app_config("django_onestep")
    assert isinstance(config, OneStepConfig)
    assert config.verbose_name == "OneStep background work"


def test_ready_imported_the_tasks_module_and_registered_its_tasks() -> None:
    from django_onestep import app

    assert "testproject.testapp.tasks" in sys.modules
    assert [spec.name for spec in app.tasks][:4] == ["record", "always_fails", "count", "slow"]


def test_ready_starts_nothing() -> None:
    # A fresh process: `django.setup()` with the test settings, then look around.
    code = (
        "import threading, django; django.setup()\n"
        "from django_onestep import app\n"
        "print(sorted(t.name for t in threading.enumerate()))\n"
        "print([spec.source.is_open for spec in app.tasks])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "testproject.settings"},
    ).stdout.splitlines()
    assert out == ["['MainThread']", "[False, False, False, False]"]


def test_autodiscover_imports_only_existing_modules() -> None:
    assert autodiscover_tasks(["tasks"]) == ["testproject.testapp.tasks"]
    assert autodiscover_tasks(["no_such_module"]) == []
    assert autodiscover_tasks([]) == []


def test_a_duplicate_task_name_becomes_system_check_e002(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_onestep import app

    monkeypatch.setattr(checks, "_discovery_errors", [])
    before = [spec.name for spec in app.tasks]
    assert autodiscover_tasks(["dup_tasks"]) == []
    assert [spec.name for spec in app.tasks] == before  # nothing half-registered
    with pytest.raises(SystemCheckError) as info:
        call_command("check")
    assert "django_onestep.E002" in str(info.value)
    assert (
        "tasks in testproject.testapp.dup_tasks could not be registered: ConfigurationError: duplicate task name 'record'"
        in str(info.value)
    )
    sys.modules.pop("testproject.testapp.dup_tasks", None)


def _only_app(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Autodiscovery sees a single installed app, ``name``."""
    from django_onestep import apps as onestep_apps

    monkeypatch.setattr(onestep_apps.apps, "get_app_configs", lambda: [SimpleNamespace(name=name)])


@pytest.mark.parametrize(
    ("app_name", "error", "message"),
    [
        ("tests.acceptance.firsthour.value_error_shop", ValueError, "invalid literal for int()"),
        ("tests.acceptance.firsthour.typo_shop", ModuleNotFoundError, "typo_shop.modles"),
    ],
)
def test_other_errors_of_a_tasks_module_propagate_naming_it(
    monkeypatch: pytest.MonkeyPatch, app_name: str, error: type[Exception], message: str
) -> None:
    # a user's bug, not a task definition: its traceback stays, with a note saying why
    # django_onestep imported the module
    monkeypatch.setattr(checks, "_discovery_errors", [])
    _only_app(monkeypatch, app_name)
    with pytest.raises(error, match=message) as info:
        autodiscover_tasks(["tasks"])
    assert info.value.__notes__ == [
        f"django_onestep was importing {app_name}.tasks (a tasks module: "
        "ONESTEP[\"TASK_MODULES\"] = ['tasks'] in each installed app)"
    ]
    assert checks.discovery_errors() == []


def test_an_invalid_setting_read_by_a_tasks_module_becomes_e002(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "_discovery_errors", [])
    _only_app(monkeypatch, "tests.acceptance.firsthour")
    with override_settings(ONESTEP={"LEASE_S": 0}):
        assert autodiscover_tasks(["reads_settings"]) == []
    (message,) = checks.discovery_errors()
    assert message.msg == (
        "tasks in tests.acceptance.firsthour.reads_settings could not be registered: "
        'OneStepSettingsError: ONESTEP["LEASE_S"]: must be > 0, got 0 '
        "(tests/acceptance/firsthour/reads_settings.py:5)"
    )


def test_ready_remembers_where_it_looked_for_tasks() -> None:
    config = apps.get_app_config("django_onestep")
    assert config.task_module_names == ["tasks"]
    assert config.imported_task_modules == ["testproject.testapp.tasks"]
