"""``manage.py onestep_celery_settings``: a project's Celery settings become the ONESTEP block."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from django_onestep.conf import OneStepSettings

SHOP = {
    "CELERY_BROKER_URL": "redis://localhost:6379/0",
    "CELERY_RESULT_BACKEND": "redis://localhost:6379/1",
    "CELERY_RESULT_EXPIRES": timedelta(days=1),
    "CELERY_TASK_SERIALIZER": "json",
    "CELERY_TIMEZONE": "Europe/Paris",
    "CELERY_TASK_ACKS_LATE": True,
    "CELERY_WORKER_PREFETCH_MULTIPLIER": 1,
    "CELERY_WORKER_CONCURRENCY": 8,
    "CELERY_WORKER_MAX_TASKS_PER_CHILD": 100,
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD": 200_000,  # KiB
    "CELERY_TASK_TIME_LIMIT": 300,
    "CELERY_TASK_ROUTES": {"shop.tasks.*": {"queue": "shop"}},
    "CELERY_BEAT_SCHEDULE": {"nightly": {"task": "shop.tasks.nightly", "schedule": 86400}},
}

SHOP_OUTPUT = """\
ONESTEP = {
    'DONE_JOB_RETENTION_S': 86400.0,  # from CELERY_RESULT_EXPIRES
    'PROCESS_POOL': {
        'MAX_MEMORY_PER_CHILD_MB': 196,  # from CELERY_WORKER_MAX_MEMORY_PER_CHILD
        'MAX_TASKS_PER_CHILD': 100,  # from CELERY_WORKER_MAX_TASKS_PER_CHILD
    },
}
# also (the PROCESS_POOL children run only time_limit= tasks):
#   CELERY_WORKER_MAX_MEMORY_PER_CHILD: run `manage.py onestep_worker --max-memory-per-child 200000` \
to recycle the worker process too
#   CELERY_WORKER_MAX_TASKS_PER_CHILD: run `manage.py onestep_worker --max-tasks-per-child 100` \
to recycle the worker process too
# not needed (delete them):
#   CELERY_BROKER_URL: tasks run on the database queue in ONESTEP['DATABASE']: there is no broker
#   CELERY_RESULT_BACKEND: a job's result is stored on its own row and read with AsyncResult(id)
#   CELERY_TASK_ACKS_LATE: always true here: a job is acknowledged after its handler finishes, \
and a dead worker's job comes back
#   CELERY_TASK_SERIALIZER: arguments and results always travel as JSON
#   CELERY_TIMEZONE: schedules carry their own timezone; onestep_import_beat reads this setting, \
keep it until you ran it
#   CELERY_WORKER_PREFETCH_MULTIPLIER: a worker claims only as many jobs as it has free slots \
(at most BATCH_SIZE per query)
# not mapped (do this instead, then delete them):
#   CELERY_BEAT_SCHEDULE: run `manage.py onestep_import_beat` to make each entry a schedule \
(editable in the admin), then delete this setting
#   CELERY_TASK_ROUTES: pass queue= on each task and choose a worker's tasks with onestep_worker --tasks
#   CELERY_TASK_TIME_LIMIT: pass time_limit=300 to the tasks that need it (they then run in a child process)
#   CELERY_WORKER_CONCURRENCY: run `manage.py onestep_worker --concurrency 8` (handlers at once per task)
"""


def run(**celery: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    with override_settings(**celery):
        call_command("onestep_celery_settings", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def onestep_block(output: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(output, namespace)  # the output is meant to be pasted into settings.py as it is
    return namespace["ONESTEP"]


def test_a_typical_project_prints_the_block_and_one_line_per_other_setting() -> None:
    out, err = run(**SHOP)
    assert out == SHOP_OUTPUT
    assert err == ""


def test_the_printed_block_is_python_the_worker_accepts() -> None:
    block = onestep_block(run(**SHOP)[0])
    assert block == {
        "DONE_JOB_RETENTION_S": 86400.0,
        "PROCESS_POOL": {"MAX_MEMORY_PER_CHILD_MB": 196, "MAX_TASKS_PER_CHILD": 100},
    }
    assert OneStepSettings(block).PROCESS_POOL["MAX_TASKS_PER_CHILD"] == 100


def test_the_celery_namespace_dict_is_read_like_the_prefixed_names() -> None:
    out, _ = run(CELERY={"result_expires": 3600, "broker_url": "redis://x", "task_always_eager": True})
    assert onestep_block(out) == {"DONE_JOB_RETENTION_S": 3600.0}
    assert "#   CELERY['broker_url']: tasks run on the database queue" in out
    assert (
        "#   CELERY['task_always_eager']: in tests, wrap the code in django_onestep.testing.eager() instead"
        in out
    )


def test_old_style_names_map_like_their_new_names() -> None:
    out, _ = run(
        BROKER_URL="amqp://",
        CELERY_ALWAYS_EAGER=True,
        CELERYD_CONCURRENCY=4,
        CELERYD_MAX_TASKS_PER_CHILD=10,
        CELERYBEAT_SCHEDULE={},
        CELERY_TASK_RESULT_EXPIRES=60,
    )
    assert onestep_block(out) == {"DONE_JOB_RETENTION_S": 60.0, "PROCESS_POOL": {"MAX_TASKS_PER_CHILD": 10}}
    assert "#   BROKER_URL: tasks run on the database queue" in out
    assert "#   CELERY_ALWAYS_EAGER: in tests, wrap the code in django_onestep.testing.eager()" in out
    assert "#   CELERYD_CONCURRENCY: run `manage.py onestep_worker --concurrency 4`" in out
    assert "#   CELERYBEAT_SCHEDULE: run `manage.py onestep_import_beat`" in out


def test_memory_per_child_rounds_kib_up_to_whole_mib() -> None:
    out, _ = run(CELERY_WORKER_MAX_MEMORY_PER_CHILD=1025)
    assert onestep_block(out) == {"PROCESS_POOL": {"MAX_MEMORY_PER_CHILD_MB": 2}}


def test_result_expires_none_keeps_done_jobs() -> None:
    out, _ = run(CELERY_RESULT_EXPIRES=None)
    assert onestep_block(out) == {"DONE_JOB_RETENTION_S": None}


def test_an_unknown_celery_setting_is_listed_not_dropped() -> None:
    out, _ = run(CELERY_SOMETHING_NEW=1)
    assert out == (
        "ONESTEP = {}\n"
        "# not mapped (do this instead, then delete them):\n"
        "#   CELERY_SOMETHING_NEW: not a Celery setting this helper knows: see the settings map in the docs\n"
    )


def test_a_default_rate_limit_says_to_put_it_on_the_tasks() -> None:
    out, _ = run(CELERY_TASK_DEFAULT_RATE_LIMIT="10/m")
    assert "#   CELERY_TASK_DEFAULT_RATE_LIMIT: pass rate_limit='10/m' to the tasks that need it" in out


def test_no_celery_settings_says_so() -> None:
    out, err = run()
    assert out == "ONESTEP = {}\n"
    assert err == "onestep_celery_settings: no Celery setting found (no CELERY_* name, no CELERY dict)\n"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"CELERY_RESULT_EXPIRES": "1 day"},
            "CELERY_RESULT_EXPIRES: must be a number of seconds > 0, a timedelta or None, got '1 day'",
        ),
        (
            {"CELERY_WORKER_MAX_TASKS_PER_CHILD": 0},
            "CELERY_WORKER_MAX_TASKS_PER_CHILD: must be an integer >= 1, got 0",
        ),
        ({"CELERY": ["broker_url"]}, "CELERY: must be a dict of Celery settings, got list"),
    ],
)
def test_a_bad_value_exits_2_naming_the_setting(settings: dict[str, Any], message: str) -> None:
    out, err = StringIO(), StringIO()
    with override_settings(**settings), pytest.raises(SystemExit) as exited:
        call_command("onestep_celery_settings", stdout=out, stderr=err)
    assert exited.value.code == 2
    assert err.getvalue() == f"onestep_celery_settings: {message}\n"
    assert out.getvalue() == ""


def test_the_docs_example_is_what_the_command_prints() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "celery.md").read_text()
    section = docs.split("## Settings map", 1)[1]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    assert shown.startswith("$ python manage.py onestep_celery_settings\n")
    out, _ = run(
        CELERY_RESULT_EXPIRES=timedelta(days=1),
        CELERY_WORKER_MAX_TASKS_PER_CHILD=100,
        CELERY_BROKER_URL="redis://localhost:6379/0",
        CELERY_TASK_ACKS_LATE=True,
        CELERY_BEAT_SCHEDULE={},
        CELERY_WORKER_CONCURRENCY=8,
    )
    assert out == shown.split("\n", 1)[1]
