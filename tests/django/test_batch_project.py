"""Batch tasks in the project: declared in ONESTEP["TASKS"], run by eager mode."""

from __future__ import annotations

from typing import Any

from django.test import override_settings

from django_onestep import MemoryQueue, OneStepApp
from django_onestep.apps import load_settings_tasks
from django_onestep.project import project_app
from django_onestep.project.project_app import build_project_app
from django_onestep.testing import eager


def test_settings_tasks_keep_their_batch_options() -> None:
    task = {
        "name": "batched",
        "source": "inbox",
        "handler": "tests.core.fixtures.yaml_handlers:sync_billing",
        "batch_size": 25,
        "batch_within_s": 2,
    }
    with override_settings(ONESTEP={}):
        app = build_project_app()
        previous, project_app._app = project_app._app, app
        try:
            load_settings_tasks({"inbox": {"type": "memory"}}, [task])
        finally:
            project_app._app = previous
    spec = app.get_task("batched")
    assert (spec.batch_size, spec.batch_within_s) == (25, 2.0)


def test_eager_gives_a_batch_handler_a_list_of_one() -> None:
    app = OneStepApp("eager-batches")
    seen: list[Any] = []

    @app.task(source=MemoryQueue("in"), batch_size=10)
    def work(ctx, payloads):  # type: ignore[no-untyped-def]
        seen.append((payloads, [item.payload for item in ctx.batch]))
        return len(payloads)

    with eager(app):
        assert work.enqueue({"n": 1}) == 1
    assert seen == [([{"n": 1}], [{"n": 1}])]
