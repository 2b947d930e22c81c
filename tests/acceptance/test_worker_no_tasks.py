"""``manage.py onestep_worker`` with nothing to run says where it looked for tasks.

It names the filter options only when they were passed; with none, the usual cause is
where autodiscovery looked (an app missing from INSTALLED_APPS, a tasks.py with its own
OneStepApp), so that is what it says.
"""

from __future__ import annotations

# no app of this project has the module named in its ONESTEP["TASK_MODULES"] (["jobs"])
NO_JOBS_MODULE = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.firsthour.settings_bad_task_urlconf_only"}


def _worker_error(manage, *args: str, env: dict[str, str] | None = None) -> str:
    result = manage.run("onestep_worker", "--once", *args, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line.split("onestep_worker: ", 1)[1]


def test_no_task_because_the_app_is_not_installed(manage) -> None:
    env = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.firsthour.settings_no_app"}
    assert _worker_error(manage, env=env) == (
        "no task to run in app 'firsthour': looked for a 'tasks' module "
        "(ONESTEP[\"TASK_MODULES\"] = ['tasks']) in INSTALLED_APPS, which has no app of yours: "
        "add the app whose tasks.py defines the tasks"
    )


def test_no_task_because_no_installed_app_has_the_module(manage) -> None:
    assert _worker_error(manage, env=NO_JOBS_MODULE) == (
        "no task to run in app 'firsthour': none of your INSTALLED_APPS (testproject.testapp, "
        "tests.acceptance.firsthour.broken_shop) has a 'jobs' module "
        "(ONESTEP[\"TASK_MODULES\"] = ['jobs']): put @app.task(source=...) handlers in "
        "<app>/jobs.py of an installed app"
    )


def test_no_task_because_tasks_py_uses_its_own_app(manage) -> None:
    env = {"DJANGO_SETTINGS_MODULE": "tests.acceptance.firsthour.settings_own_app"}
    assert _worker_error(manage, env=env) == (
        "no task to run in app 'firsthour': the tasks modules imported "
        "(tests.acceptance.firsthour.own_app_shop.tasks; ONESTEP[\"TASK_MODULES\"] = ['tasks']) "
        "register no task on it: use 'from django_onestep import app' and decorate handlers "
        "with @app.task(source=...)"
    )


def test_no_task_names_only_the_filters_passed(manage) -> None:
    assert _worker_error(manage, "--queues", "testapp.work", "--exclude-tasks", "record") == (
        "no task to run in app 'testproject' with --exclude-tasks record --queues testapp.work "
        "(tasks with a source: record, always_fails, count, slow)"
    )


def test_no_task_in_a_target_app(manage) -> None:
    assert _worker_error(manage, "tests.acceptance.firsthour.targets:sourceless") == (
        "no task to run in app 'sourceless': its tasks (report) have no source to fetch from: "
        "give them one, e.g. @app.task(source=DatabaseQueue('emails'))"
    )
    assert _worker_error(manage, "tests.acceptance.firsthour.targets:empty") == (
        "no task to run in app 'empty' (loaded from 'tests.acceptance.firsthour.targets:empty'): "
        "it has no tasks; register them with @app.task(source=...)"
    )
