"""A schedule tick (payload ``None``) runs a ``@shared_task`` with no arguments, as beat does."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from django_onestep.project.project_app import get_project_app
from django_onestep.testing import run_until_idle
from testproject.testapp import celery_tasks
from testproject.testapp.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_tick_without_payload_calls_the_task_with_no_arguments() -> None:
    if get_project_app().runtime.find_task(celery_tasks.concat.name) is None:
        importlib.reload(celery_tasks)  # a test elsewhere may have reset the project app
    task: Any = celery_tasks.concat
    task.queue.send(None)  # what an admin-defined (or imported beat) schedule enqueues
    summary = run_until_idle(tasks=[task.name])
    assert summary.by_task[task.name]["succeeded"] == 1
    assert list(Run.objects.filter(task="concat").values_list("label", flat=True)) == [""]
