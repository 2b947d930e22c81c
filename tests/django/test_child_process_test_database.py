"""``run_until_idle()`` runs ``executor="process"`` tasks in children that use the test
database, like the in-process tasks, not the project's own database."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from django_onestep.models import Job
from django_onestep.project.project_app import get_project_app
from django_onestep.testing import run_until_idle
from testproject.testapp import celery_tasks
from testproject.testapp.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_time_limited_task_writes_to_the_test_database() -> None:
    if get_project_app().runtime.find_task(celery_tasks.limited.name) is None:
        importlib.reload(celery_tasks)  # a test elsewhere may have reset the project app
    task: Any = celery_tasks.limited
    task.delay("in a child")
    summary = run_until_idle(tasks=[task.name])
    assert summary.by_task[task.name]["succeeded"] == 1, [str(event) for event in summary.events]
    assert list(Run.objects.filter(task="limited").values_list("label", flat=True)) == ["in a child"]
    assert Job.objects.get(queue=task.name).status == "done"
