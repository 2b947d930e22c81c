"""``ONESTEP["CONTROL_PLANE"]`` attaches the reporter to the project app."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.test import override_settings

from django_onestep import MemoryQueue
from django_onestep.conf import OneStepSettingsError
from django_onestep.project.project_app import build_project_app
from tests.core.test_reporter_contract import control_plane


def test_the_setting_off_attaches_nothing() -> None:
    with override_settings(ONESTEP={"APP_NAME": "quiet"}):
        app = build_project_app()
    assert not [hook for hook in app.runtime.hub.startup_hooks if "ControlPlane" in repr(hook)]


async def test_a_project_app_reports_heartbeats_and_topology_from_the_setting() -> None:
    with control_plane() as plane:
        options = {
            "base_url": plane.url,
            "token": "tok",
            "environment": "staging",
            "heartbeat_interval_s": 0.05,
        }
        with override_settings(ONESTEP={"APP_NAME": "site", "STATE": "memory", "CONTROL_PLANE": options}):
            app = build_project_app()
        done: list[Any] = []

        @app.task(source=MemoryQueue("jobs"))
        async def work(ctx: Any, payload: Any) -> None:
            done.append(payload)

        await app.runtime.find_task("work").source.publish(1)
        serving = asyncio.create_task(app.serve())
        for _ in range(200):
            if plane.bodies("sync") and done:
                break
            await asyncio.sleep(0.02)
        app.request_shutdown()
        await asyncio.wait_for(serving, 30)
    heartbeat = plane.bodies("heartbeat")[0]
    assert (heartbeat["app_name"], heartbeat["environment"]) == ("site", "staging")
    assert [task["name"] for task in plane.bodies("sync")[0]["topology"]["tasks"]] == ["work"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"token": "t"}, "needs base_url"),
        ({"base_url": "http://cp", "token": "t", "heartbeat_s": 1}, "heartbeat_s"),
        ("yes", "must be a dict"),
    ],
)
def test_a_bad_setting_names_the_key(value: Any, problem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ONESTEP_CONTROL_PLANE_URL", "ONESTEP_CONTROL_URL"):
        monkeypatch.delenv(name, raising=False)
    with override_settings(ONESTEP={"APP_NAME": "bad", "CONTROL_PLANE": value}):
        with pytest.raises(OneStepSettingsError, match=r'ONESTEP\["CONTROL_PLANE"\]: .*' + problem):
            build_project_app()
