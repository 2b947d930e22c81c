"""System checks report misconfiguration with stable ids and actionable messages."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import checks as django_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_onestep import checks


def _run(**kwargs: Any) -> list[django_checks.CheckMessage]:
    return [m for m in django_checks.run_checks(**kwargs) if m.id and m.id.startswith("django_onestep.")]


def test_clean_settings_give_no_message() -> None:
    assert _run() == []


def test_broken_setting_is_e001_naming_the_key() -> None:
    with override_settings(ONESTEP={"LEASE_S": -1}):
        messages = _run()
    assert [(m.id, m.msg) for m in messages] == [
        ("django_onestep.E001", 'ONESTEP["LEASE_S"]: must be > 0, got -1')
    ]


def test_settings_that_are_not_a_dict_are_e001() -> None:
    with override_settings(ONESTEP="shop"):
        messages = _run()
    assert [(m.id, m.msg) for m in messages] == [("django_onestep.E001", "ONESTEP: must be a dict, got str")]


def test_a_state_path_that_does_not_import_is_e001() -> None:
    with override_settings(ONESTEP={"STATE": "testproject.nowhere.Store"}):
        messages = _run()
    assert [(m.id, m.msg) for m in messages] == [
        (
            "django_onestep.E001",
            "ONESTEP[\"STATE\"]: cannot import 'testproject.nowhere.Store': No module named 'testproject.nowhere'",
        )
    ]
    with override_settings(ONESTEP={"STATE": "django_onestep.orm.stores.DatabaseStateStore"}):
        assert _run() == []


def test_manage_py_check_fails_on_a_broken_setting() -> None:
    with override_settings(ONESTEP={"BATCH_SIZE": 0}), pytest.raises(SystemCheckError) as info:
        call_command("check")
    assert 'ONESTEP["BATCH_SIZE"]: must be >= 1, got 0' in str(info.value)
    assert "django_onestep.E001" in str(info.value)


def test_unknown_connector_type_is_e004_listing_known_types() -> None:
    with override_settings(ONESTEP={"CONNECTORS": {"bus": {"type": "kafka"}}}):
        messages = _run()
    assert [m.id for m in messages] == ["django_onestep.E004"]
    assert messages[0].msg == 'ONESTEP["CONNECTORS"]["bus"]: unknown connector type \'kafka\''
    assert "redis_stream" in messages[0].hint


def test_missing_extra_is_e005_with_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = checks.importlib.util.find_spec
    monkeypatch.setattr(
        checks.importlib.util, "find_spec", lambda name: None if name == "pika" else real_find_spec(name)
    )
    with override_settings(ONESTEP={"CONNECTORS": {"mq": {"type": "rabbitmq", "url": "amqp://x"}}}):
        messages = _run()
    assert [m.id for m in messages] == ["django_onestep.E005"]
    assert messages[0].hint == "pip install 'django-onestep[rabbitmq]'"


def test_bad_cron_is_e006() -> None:
    connectors = {
        "nightly": {"type": "cron", "expression": "61 * * * *"},
        "ok": {"type": "cron", "expression": "@daily"},
    }
    with override_settings(ONESTEP={"CONNECTORS": connectors}):
        messages = _run()
    assert [(m.id, m.msg) for m in messages] == [
        (
            "django_onestep.E006",
            'ONESTEP["CONNECTORS"]["nightly"]["expression"]: invalid cron expression \'61 * * * *\': '
            "minute value '61' is outside 0-59",
        )
    ]


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("*/5 * * * *", None),
        ("@hourly", None),
        ("0 0 L * *", None),
        ("0 0 * * 1#2", None),
        ("0 0 15W * *", None),
        ("0 0 * * 5L", None),
        (
            "0 2 * *",
            "invalid cron expression '0 2 * *': expected 5 fields "
            "(minute hour day-of-month month day-of-week), got 4",
        ),
        ("", "invalid cron expression '': it must be a non-empty string such as '*/5 * * * *'"),
        ("0 25 * * *", "invalid cron expression '0 25 * * *': hour value '25' is outside 0-23"),
    ],
)
def test_cron_problem(expr: str, problem: str | None) -> None:
    assert checks.cron_problem(expr) == problem


BAD_CRON = [
    "61 * * * *",
    "0 2 * *",
    "",
    "5-1 * * * *",
    "*/0 * * * *",
    "0 0 30 feb *",
    "0 0 * * sat-sun",
    "0 0 * * * *",
    "0 0 0 * * * 2030",
    "@reboot",
    "@fortnightly",
    "0 0 ? * *",
    "H * * * *",
    "R 0 * * *",
    "0 0 LW * *",
    "0 0 1,15W * *",
    "0 0 * * 1#6",
    "0 0 * * 1#2,5",
    "0 0 * L *",
]


@pytest.mark.parametrize("expr", BAD_CRON)
def test_e006_says_what_cron_source_says(expr: str) -> None:
    from django_onestep import CronSource

    with pytest.raises(ValueError) as raised:
        CronSource(expr)
    with override_settings(ONESTEP={"CONNECTORS": {"nightly": {"type": "cron", "expression": expr}}}):
        messages = _run()
    assert [(m.id, m.msg) for m in messages] == [
        ("django_onestep.E006", f'ONESTEP["CONNECTORS"]["nightly"]["expression"]: {raised.value}')
    ]
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("expr", ["0 0 L * *", "0 0 * * 1#2", "0 0 15W * *", "0 0 * * 5L", "0 9 * * mon-7"])
def test_what_e006_accepts_the_runtime_runs(expr: str) -> None:
    # E006 once checked with croniter while the runtime had its own parser: the check
    # passed "0 0 L * *" and the worker then refused it.
    from django_onestep import CronSource

    with override_settings(ONESTEP={"CONNECTORS": {"nightly": {"type": "cron", "expression": expr}}}):
        assert _run() == []
    assert CronSource(expr, timezone="UTC").schedule.next_after(datetime(2026, 1, 1, tzinfo=UTC), UTC)


def test_discovery_errors_are_e002(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "_discovery_errors", [])
    checks.record_discovery_error("shop.tasks", ValueError("duplicate task name 'sync'"))
    messages = _run()
    assert [(m.id, m.msg) for m in messages] == [
        (
            "django_onestep.E002",
            "tasks in shop.tasks could not be registered: ValueError: duplicate task name 'sync'",
        )
    ]
    assert messages[0].hint == "Fix that task definition as the message says."


def test_settings_task_errors_hint_at_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_onestep.apps import load_settings_tasks

    monkeypatch.setattr(checks, "_discovery_errors", [])
    tasks = [{"name": "x", "source": "nope", "handler": {"ref": "testproject.testapp.tasks:record"}}]
    assert load_settings_tasks({}, tasks) == []
    (message,) = _run()
    assert (message.id, message.msg) == (
        "django_onestep.E002",
        'tasks in ONESTEP["TASKS"] could not be registered: '
        "ConfigurationError: tasks[0].source: unknown resource 'nope' (resources: none defined)",
    )
    # not the tasks.py advice about unique names
    assert (
        message.hint == 'Fix the definition at the path named, in ONESTEP["TASKS"] or ONESTEP["CONNECTORS"].'
    )


def test_duplicate_task_names_are_e003() -> None:
    app = SimpleNamespace(name="shop", tasks=[SimpleNamespace(name="a"), SimpleNamespace(name="a")])
    messages = checks.check_duplicate_task_names(app)
    assert [(m.id, m.msg) for m in messages] == [
        ("django_onestep.E003", "task name 'a' is used twice in app 'shop'")
    ]


def test_sqlite_without_immediate_transactions_is_w001() -> None:
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite-specific check")
    db = settings.DATABASES["default"]
    original = db["OPTIONS"]
    db["OPTIONS"] = {"timeout": 20}
    try:
        messages = _run()
    finally:
        db["OPTIONS"] = original
    assert [m.id for m in messages] == ["django_onestep.W001"]
    assert "database is locked" in messages[0].msg


@pytest.mark.django_db
def test_tables_present_after_migrate_give_no_e007() -> None:
    assert checks.tables_missing("default") == []
    # not a registered check: `migrate` runs database checks before creating the tables
    assert _run(databases=["default"]) == []


def test_processes_on_sqlite_is_e008() -> None:
    from django.db import connection

    messages = checks.check_processes(2, "default")
    if connection.vendor == "sqlite":
        assert [m.id for m in messages] == ["django_onestep.E008"]
    else:
        assert messages == []
    assert checks.check_processes(1, "default") == []


# -- errors raised while Django's URL checks import the URLconf ----------------------------


@pytest.fixture
def fresh_urlconf_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_onestep.checks import urlconf_guard

    monkeypatch.setattr(urlconf_guard, "_first_errors", {})
    monkeypatch.setattr(checks, "_discovery_errors", [])
    # a fresh app for half_registered_urls: nothing registered by an earlier test
    monkeypatch.delitem(sys.modules, "tests.acceptance.firsthour.half_registered_app", raising=False)


def test_a_task_definition_error_in_the_urlconf_is_e002_not_a_traceback(fresh_urlconf_errors: None) -> None:
    urlconf = "tests.acceptance.firsthour.half_registered_urls"
    with override_settings(ROOT_URLCONF=urlconf):
        first = _run()
        # the second import fails on a "duplicate" name (the task above the bad one was
        # registered by the first): the report still names the bad task, not that one
        second = _run()
    assert [(m.id, m.msg) for m in first] == [
        (
            "django_onestep.E002",
            f"importing the URLconf {urlconf!r} failed at tests/acceptance/firsthour/half_registered_urls.py:14: "
            "ConfigurationError: task 'rejected' concurrency: must be >= 1, got 0",
        )
    ]
    assert [(m.id, m.msg) for m in second] == [(m.id, m.msg) for m in first]


def test_manage_py_check_shows_the_urlconf_error_as_a_check_error(fresh_urlconf_errors: None) -> None:
    with (
        override_settings(ROOT_URLCONF="tests.acceptance.firsthour.half_registered_urls"),
        pytest.raises(SystemCheckError) as info,
    ):
        call_command("check")
    assert "(django_onestep.E002) importing the URLconf" in str(info.value)
    assert "concurrency: must be >= 1, got 0" in str(info.value)


def test_an_invalid_setting_read_by_the_urlconf_is_reported_once_as_e001(fresh_urlconf_errors: None) -> None:
    with override_settings(
        ONESTEP={"LEASE_SS": 60}, ROOT_URLCONF="tests.acceptance.firsthour.reads_settings"
    ):
        messages = _run()
    assert [(m.id, m.msg) for m in messages] == [
        ("django_onestep.E001", 'ONESTEP["LEASE_SS"]: unknown setting; did you mean LEASE_S?')
    ]


def test_an_invalid_setting_only_the_urlconf_meets_is_e001_naming_the_line(
    fresh_urlconf_errors: None,
) -> None:
    with override_settings(ROOT_URLCONF="tests.acceptance.firsthour.settings_error_urls"):
        messages = _run()
    assert [(m.id, m.msg) for m in messages] == [
        (
            "django_onestep.E001",
            'ONESTEP["WEBHOOKS"]["BASE_PATH"]: must be a string, got 3 (raised at '
            "tests/acceptance/firsthour/settings_error_urls.py:6 while importing the URLconf)",
        )
    ]


def test_a_urlconf_error_autodiscovery_already_reported_is_not_repeated(fresh_urlconf_errors: None) -> None:
    from django_onestep.core.errors import ConfigurationError

    try:
        import tests.acceptance.firsthour.half_registered_urls  # noqa: F401
    except ConfigurationError as exc:
        checks.record_discovery_error("tests.acceptance.firsthour.half_registered_urls", exc)
    with override_settings(ROOT_URLCONF="tests.acceptance.firsthour.half_registered_urls"):
        messages = _run()
    assert [(m.id, m.msg.split(":")[0]) for m in messages] == [
        (
            "django_onestep.E002",
            "tasks in tests.acceptance.firsthour.half_registered_urls could not be registered",
        )
    ]


def test_other_errors_from_the_urlconf_propagate(fresh_urlconf_errors: None) -> None:
    with (
        override_settings(ROOT_URLCONF="tests.acceptance.import_error_app"),
        pytest.raises(NameError, match="undefined_queue"),
    ):
        _run()


def test_the_url_checks_are_wrapped_once() -> None:
    from django.core.checks import Tags
    from django.core.checks.registry import registry

    from django_onestep.checks import urlconf_guard

    def url_checks() -> list[Any]:
        return [c for c in registry.get_checks() if Tags.urls in c.tags]

    before = url_checks()
    assert before and all(getattr(c, "onestep_guarded", False) for c in before)
    urlconf_guard.install()
    assert url_checks() == before
