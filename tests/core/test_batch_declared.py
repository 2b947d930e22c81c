"""Batch tasks declared in YAML (and settings, which share the loader), and run by hand."""

from __future__ import annotations

from typing import Any

import pytest

from django_onestep import MemoryQueue, OneStepApp, load_app_config
from django_onestep.core.declarative.check import build_report, render_report
from django_onestep.core.errors import ConfigurationError

HANDLER = "tests.core.fixtures.yaml_handlers:sync_billing"


def config(**task: Any) -> dict[str, Any]:
    return {
        "app": {"name": "declared"},
        "resources": {"inbox": {"type": "memory"}},
        "tasks": [{"name": "t", "source": "inbox", "handler": HANDLER, **task}],
    }


def test_yaml_batch_options_reach_the_task() -> None:
    app = load_app_config(config(batch_size=50, batch_within_s=0.5))
    spec = app.get_task("t")
    assert (spec.batch_size, spec.batch_within_s) == (50, 0.5)


def test_a_bad_yaml_batch_option_names_its_path() -> None:
    with pytest.raises(ConfigurationError, match=r"^tasks\[0\]: task 't': batch_within_s needs batch_size"):
        load_app_config(config(batch_within_s=0.5))


async def test_a_manual_run_gives_a_batch_handler_a_batch_of_one() -> None:
    app = OneStepApp("manual")
    seen: list[Any] = []

    @app.task(source=MemoryQueue("in"), batch_size=10)
    async def work(ctx, payloads):
        seen.append(payloads)

    status = await app.run_task_once("work", payload={"n": 1})
    assert status["completion"] == "complete"
    assert seen == [[{"n": 1}]]


def test_the_check_report_shows_the_batch_options() -> None:
    app = OneStepApp("checked")

    @app.task(source=MemoryQueue("in"), batch_size=20, batch_within_s=0.5)
    async def work(ctx, payloads): ...

    [entry] = build_report(app)["tasks"]
    assert entry["batch"] == {"batch_size": 20, "batch_within_s": 0.5}
    assert " batch=20 within=0.50s" in render_report(build_report(app))
