"""What a new user meets in the first hour, through the real ``manage.py`` commands.

The projects live in ``tests/acceptance/firsthour/``: their URLconf imports a view that
imports the app's tasks.py, as every view that enqueues does. A mistake in the settings
or in a task definition must read as one line naming what to fix (exit 2 from our
commands, a system check error from Django's), never as a traceback from the URLconf.
"""

from __future__ import annotations

import json

MISSPELT = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.firsthour.settings_misspelt"}
BAD_TASK = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.firsthour.settings_bad_task"}
BAD_TASK_URLCONF_ONLY = {
    "DJANGO_SETTINGS_MODULE": "tests.acceptance.firsthour.settings_bad_task_urlconf_only"
}
CELERY_OPTION = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.firsthour.settings_celery_option"}
TYPO_IN_TASKS = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.firsthour.settings_typo_in_tasks"}

MISSPELT_LINE = 'ONESTEP["LEASE_SS"]: unknown setting; did you mean LEASE_S?'
BAD_TASK_LINE = (
    "tasks in tests.acceptance.firsthour.broken_shop.tasks could not be registered: ConfigurationError: "
    "task 'process_order' concurrency: must be >= 1, got 0 "
    "(tests/acceptance/firsthour/broken_shop/tasks.py:11)"
)


def _no_traceback(result) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


# -- a misspelt ONESTEP key ------------------------------------------------------------


def test_misspelt_key_onestep_check_names_it_and_exits_2(manage) -> None:
    result = manage.run("onestep_check", env=MISSPELT)
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stdout == (
        "django:\n"
        f"  error: django_onestep.E001: {MISSPELT_LINE}\n"
        "    hint: Fix this key in the ONESTEP dict of your settings.\n"
        "FAILED\n"
    )


def test_misspelt_key_onestep_check_json(manage) -> None:
    result = manage.run("onestep_check", "--json", env=MISSPELT)
    _no_traceback(result)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["problems"] == []  # the E001 below says it all, once
    assert [(m["id"], m["message"]) for m in report["django"]] == [("django_onestep.E001", MISSPELT_LINE)]


def test_misspelt_key_manage_py_check_is_a_system_check_error(manage) -> None:
    result = manage.run("check", env=MISSPELT)
    _no_traceback(result)
    assert result.returncode == 1
    assert f"?: (django_onestep.E001) {MISSPELT_LINE}\n" in result.stderr
    assert "System check identified 1 issue (0 silenced)." in result.stderr


def test_misspelt_key_worker_exits_2_with_one_line(manage) -> None:
    result = manage.run("onestep_worker", "--once", env=MISSPELT)
    _no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(f"onestep_worker: {MISSPELT_LINE}")


# -- a task definition the runtime rejects -----------------------------------------------


def test_bad_task_worker_exits_2_naming_the_option(manage) -> None:
    result = manage.run("onestep_worker", "--once", env=BAD_TASK)
    _no_traceback(result)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert f"onestep_worker: {BAD_TASK_LINE}" in line


def test_bad_task_onestep_check_exits_2_naming_the_option(manage) -> None:
    result = manage.run("onestep_check", env=BAD_TASK)
    _no_traceback(result)
    assert result.returncode == 2
    assert f"  error: django_onestep.E002: {BAD_TASK_LINE}\n" in result.stdout
    report = json.loads(manage.run("onestep_check", "--json", env=BAD_TASK).stdout)
    assert [(m["id"], m["message"]) for m in report["django"]] == [("django_onestep.E002", BAD_TASK_LINE)]


def test_bad_task_manage_py_check_reports_it_once(manage) -> None:
    result = manage.run("check", env=BAD_TASK)
    _no_traceback(result)
    assert result.returncode == 1
    assert f"?: (django_onestep.E002) {BAD_TASK_LINE}\n" in result.stderr
    # the view imports tasks.py again: that second failure is not reported on its own
    # (it would blame the task registered before the bad one as a duplicate)
    assert "duplicate" not in result.stderr
    assert "System check identified 1 issue (0 silenced)." in result.stderr


def test_bad_task_other_commands_stop_on_the_check_error(manage) -> None:
    result = manage.run("showmigrations", "django_onestep", env=BAD_TASK)
    _no_traceback(result)
    assert result.returncode == 1
    assert f"?: (django_onestep.E002) {BAD_TASK_LINE}\n" in result.stderr


def test_bad_task_seen_only_through_the_urlconf(manage) -> None:
    # ONESTEP["TASK_MODULES"] does not name it: only the view imports it
    line = (
        "importing the URLconf 'tests.acceptance.firsthour.broken_shop.urls' failed at "
        "tests/acceptance/firsthour/broken_shop/tasks.py:11: ConfigurationError: "
        "task 'process_order' concurrency: must be >= 1, got 0"
    )
    check = manage.run("check", env=BAD_TASK_URLCONF_ONLY)
    _no_traceback(check)
    assert check.returncode == 1
    assert f"?: (django_onestep.E002) {line}\n" in check.stderr
    onestep_check = manage.run("onestep_check", env=BAD_TASK_URLCONF_ONLY)
    _no_traceback(onestep_check)
    assert onestep_check.returncode == 2
    assert f"  error: django_onestep.E002: {line}\n" in onestep_check.stdout


def test_celery_option_is_named_in_one_line(manage) -> None:
    worker = manage.run("onestep_worker", "--once", env=CELERY_OPTION)
    _no_traceback(worker)
    assert worker.returncode == 2
    assert "bind" in worker.stderr.strip().splitlines()[-1]
    check = manage.run("check", env=CELERY_OPTION)
    _no_traceback(check)
    assert check.returncode == 1
    assert "?: (django_onestep.E002) tasks in tests.acceptance.firsthour.celery_shop.tasks" in check.stderr
    assert "bind" in check.stderr


def test_other_errors_in_a_tasks_module_keep_their_traceback_and_name_the_module(manage) -> None:
    result = manage.run("check", env=TYPO_IN_TASKS)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert (
        "ModuleNotFoundError: No module named 'tests.acceptance.firsthour.typo_shop.modles'" in result.stderr
    )
    assert (
        "django_onestep was importing tests.acceptance.firsthour.typo_shop.tasks "
        "(a tasks module: ONESTEP[\"TASK_MODULES\"] = ['tasks'] in each installed app)"
    ) in result.stderr
