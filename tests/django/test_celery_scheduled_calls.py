"""Schedule ticks run ``@shared_task`` functions with the arguments of the celery beat entry
they were imported from: none (payload ``None``), args, kwargs, or both."""

from __future__ import annotations

import importlib
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings

from django_onestep.models import Schedule
from django_onestep.project.project_app import get_project_app
from django_onestep.testing import run_until_idle
from testproject.testapp import celery_tasks
from testproject.testapp.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def registered() -> Any:
    """The tasks, registered on the current project app (a test elsewhere may have reset it)."""
    if get_project_app().runtime.find_task(celery_tasks.concat.name) is None:
        importlib.reload(celery_tasks)
    return celery_tasks


def labels(task: str) -> list[str]:
    return list(Run.objects.filter(task=task).order_by("id").values_list("label", flat=True))


def test_a_tick_without_payload_calls_the_task_with_no_arguments(registered: Any) -> None:
    task = registered.concat
    task.queue.send(None)  # what a schedule without payload enqueues
    summary = run_until_idle(tasks=[task.name])
    assert summary.by_task[task.name]["succeeded"] == 1
    assert labels("concat") == [""]


def test_imported_beat_entries_pass_their_args_and_kwargs(registered: Any) -> None:
    beat = {
        "sum": {"task": registered.add.name, "schedule": 60, "kwargs": {"x": 2, "y": 3}},
        "joined": {
            "task": registered.concat.name,
            "schedule": 60,
            "args": ["a", "b"],
            "kwargs": {"sep": "+"},
        },
    }
    with override_settings(CELERY_BEAT_SCHEDULE=beat):
        call_command("onestep_import_beat", stdout=StringIO())
    for schedule in Schedule.objects.filter(key__in=["beat:sum", "beat:joined"]):
        task = registered.add if schedule.key == "beat:sum" else registered.concat
        task.queue.send(schedule.payload)  # what each tick enqueues
    run_until_idle(tasks=[registered.add.name, registered.concat.name])
    assert labels("add") == ["5"]
    assert labels("concat") == ["a+b"]
